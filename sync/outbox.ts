import type { Client } from "@libsql/client";
import { type ChangesJson, changeJson, shortChangeJson } from "./changelog.ts";
import type { Exec } from "./clock.ts";
import { foldLocal } from "./fold.ts";
import type { SyncContext } from "./install.ts";
import { writeBatch, writeTransaction } from "./lane.ts";
import { HEAD_SEQ_SQL, KEEP_NEWEST } from "./log-seq.ts";

/*
 * The edge's outbox (sync_changes) and its bookkeeping row in sync_peers (site "upstream").
 */
export const UPSTREAM = "upstream";
/** The outbox seq the server has acknowledged, as SQL (rows after it are pending). */
export const ACKED_SQL = `coalesce((SELECT acked_seq FROM sync_peers WHERE site = '${UPSTREAM}'), 0)`;

export interface UpstreamRow {
  ackedSeq: number;
  pullCursor: number;
  serverSite: string | null;
  lastPushAt: number | null;
  lastPullAt: number | null;
}

/** The edge's bookkeeping about its server (installSync creates the row). */
export async function upstream(exec: Exec): Promise<UpstreamRow> {
  const r = (await exec.execute({ sql: "SELECT * FROM sync_peers WHERE site = ?", args: [UPSTREAM] }))
    .rows[0];
  if (!r) return { ackedSeq: 0, pullCursor: 0, serverSite: null, lastPushAt: null, lastPullAt: null };
  const num = (v: unknown) => (v === null ? null : Number(v));
  return {
    ackedSeq: Number(r.acked_seq),
    pullCursor: Number(r.pull_cursor),
    serverSite: r.peer_site === null ? null : String(r.peer_site),
    lastPushAt: num(r.last_push_at),
    lastPullAt: num(r.last_pull_at),
  };
}

/**
 * The next outbox rows after `after`, in order, up to `limit` rows or about `maxBytes`
 * (but at least one), as the JSON text of an array built by SQLite: far cheaper than row
 * objects, and sent on without re-encoding. A change of the edge's own site and current
 * schema version (`own`) leaves those two out: the push batch carries them once.
 */
export async function readOutbox(
  exec: Exec,
  own: { site: string; sv: number },
  after: number,
  limit: number,
  maxBytes: number,
): Promise<ChangesJson> {
  // The rows are a rowid range, read in seq order by a plain range scan feeding the aggregate
  // (a test pins it; the server sorts a batch that comes otherwise), where an ORDER BY inside
  // the aggregate sorts every change again and a LIMITed subquery copies every row.
  const upTo = (end: string) =>
    `SELECT '[' || coalesce(group_concat(CASE WHEN o.site = ?1 AND o.sv = ?2 THEN ${shortChangeJson("o")} ` +
    `ELSE ${changeJson("o")} END, ','), '') || ']' AS j, COUNT(*) AS n, MAX(o.seq) AS last, ${HEAD_SEQ_SQL} AS head ` +
    // (op 'marker': a placeholder that only holds a seq, see log-seq.ts)
    `FROM sync_changes o WHERE o.seq > ?3 AND o.op != 'marker' AND o.seq <= ${end}`;
  for (;;) {
    // Seqs after the acknowledged one are normally dense (a write takes the next one), so the
    // range (after, after + limit] is read first: it IS the page when it holds `limit` changes
    // or reaches the newest row. Otherwise (a gap or a marker before more rows) the page's end
    // is found by walking the rows, which costs about a sixth of the read.
    const args = [own.site, own.sv, after, limit];
    let rs = await exec.execute({ sql: upTo("?3 + ?4"), args });
    const first = rs.rows[0]!;
    if (Number(first.n) !== limit && Number(first.head) > after + limit) {
      rs = await exec.execute({
        sql: upTo(
          "coalesce((SELECT seq FROM sync_changes WHERE seq > ?3 AND op != 'marker' ORDER BY seq " +
            "LIMIT 1 OFFSET ?4 - 1), 9223372036854775807)",
        ),
        args,
      });
    }
    const row = rs.rows[0]!;
    const json = String(row.j);
    const count = Number(row.n);
    if (json.length > maxBytes && count > 1) {
      limit = Math.max(1, Math.floor((count * maxBytes) / json.length) - 1);
      continue;
    }
    return { json, count, lastSeq: row.last === null ? after : Number(row.last), more: count === limit };
  }
}

/** Outbox rows the server has not acknowledged yet. */
export async function countOutbox(exec: Exec): Promise<number> {
  const rs = await exec.execute(`SELECT COUNT(*) AS n FROM sync_changes WHERE seq > ${ACKED_SQL}`);
  return Number(rs.rows[0]!.n);
}

/**
 * Records the server's acknowledgement and drops the outbox rows it covers, atomically.
 * Rows not yet folded into sync_versions stay until the next fold (their stamps are
 * needed there); they are no longer pending.
 */
export async function ackOutbox(client: Client, acked: number, serverSite: string): Promise<void> {
  await writeBatch(client, [
    {
      sql: "UPDATE sync_peers SET acked_seq = MAX(acked_seq, ?), last_push_at = ?, peer_site = ? WHERE site = ?",
      args: [acked, Date.now(), serverSite, UPSTREAM],
    },
    {
      sql: `DELETE FROM sync_changes WHERE seq <= MIN(?, (SELECT folded_seq FROM sync_clock WHERE id = 1)) AND ${KEEP_NEWEST}`,
      args: [acked],
    },
  ]);
}

/** Folds what the server has acknowledged, then drops it (maintenance between rounds). */
export function pruneOutbox(ctx: SyncContext): Promise<number> {
  return writeTransaction(ctx.client, async (tx) => {
    await foldLocal(tx, ctx);
    const rs = await tx.execute(`DELETE FROM sync_changes WHERE seq <= ${ACKED_SQL} AND ${KEEP_NEWEST}`);
    return rs.rowsAffected;
  });
}
