import type { Exec } from "./clock.ts";
import { foldLocal } from "./fold.ts";
import type { SyncContext } from "./install.ts";
import { writeTransaction } from "./lane.ts";
import { type KeysEntry, keysEntry, renderKeysEntry } from "./log-render.ts";
import { HEAD_SEQ_SQL, KEEP_NEWEST } from "./log-seq.ts";
import type { WireChange } from "./protocol.ts";
import { hlcFromHex, hlcFromParts, hlcToHex } from "./stamp.ts";

/*
 * The server's change log (sync_changes) and its garbage collection. On an edge the same
 * table is the outbox, emptied by acknowledgements; GC only collects its tombstones.
 */

/** Tombstones and change-log entries older than this are collected. */
export const DEFAULT_GC_HORIZON_MS = 30 * 24 * 3600_000;

/** The last change-log seq ever assigned. */
export async function headSeq(exec: Exec): Promise<number> {
  const rs = await exec.execute(`SELECT ${HEAD_SEQ_SQL} AS seq`);
  return Number(rs.rows[0]!.seq);
}

/**
 * A change as JSON in the compact form (protocol.ts), built in SQL from the sync_changes row
 * `ref`. A delete's stored values (for its tombstone) stay home. pk and cols are JSON text
 * already (the capture triggers write them with json_array/json_object), so they are spliced
 * in as they are: json_array() would parse and re-render both (a fifth of the outbox read).
 * The table name needs no quoting: the triggers write it, and it is a plain identifier
 * (resolveTable checks that).
 */
export const changeJson = (ref: string) =>
  `printf('[%d,"%s",%s,"%s",%s,"%016x",%s,%d]', ${ref}.seq, ${ref}.tbl, ${ref}.pk, ${ref}.op, ` +
  `CASE WHEN ${ref}.op = 'delete' THEN 'null' ELSE coalesce(${ref}.cols, 'null') END, ${ref}.hlc, json_quote(${ref}.site), ${ref}.sv)`;

/** changeJson without site and sv (see WireChangeShortTupleSchema): for a push of the edge's own changes. */
export const shortChangeJson = (ref: string) =>
  `printf('[%d,"%s",%s,"%s",%s,"%016x"]', ${ref}.seq, ${ref}.tbl, ${ref}.pk, ${ref}.op, ` +
  `CASE WHEN ${ref}.op = 'delete' THEN 'null' ELSE coalesce(${ref}.cols, 'null') END, ${ref}.hlc)`;

/** A page of changes as the JSON text of an array (what goes on the wire as is). */
export interface ChangesJson {
  json: string;
  count: number;
  lastSeq: number;
  /** the page stopped at its limit (or byte budget): there may be more */
  more: boolean;
}

/**
 * Server: appends applied changes of two-way tables to the change log, for the other edges
 * to pull: one "keys" entry per batch (per run of one site's changes; a push is one site's),
 * holding the keys of the rows the batch touched; a pull renders them from the rows' state
 * (log-render.ts). The entry's sync_changes row takes seq = head + n, so the batch covers the
 * n positions up to it and cursors, lag and page sizes still count changes.
 * (Entries of op "batch", written before, hold the changes themselves and are sent as they are.)
 */
export async function appendChanges(tx: Exec, ctx: SyncContext, changes: WireChange[]): Promise<void> {
  const logged = changes.filter((c) => ctx.table(c.tbl)?.direction === "both");
  let start = 0;
  for (let i = 1; i <= logged.length; i++) {
    if (i < logged.length && logged[i]!.site === logged[start]!.site) continue;
    await appendBatch(tx, logged.slice(start, i));
    start = i;
  }
}

async function appendBatch(tx: Exec, batch: WireChange[]): Promise<void> {
  let hlc = batch[0]!.hlc;
  for (const c of batch) if (c.hlc > hlc) hlc = c.hlc;
  const rs = await tx.execute({
    sql:
      `INSERT INTO sync_changes (seq, tbl, pk, op, cols, hlc, site, sv) VALUES (${HEAD_SEQ_SQL} + ?, '', '[]', 'keys', NULL, ?, ?, ?) ` +
      "RETURNING seq",
    args: [batch.length, hlcFromHex(hlc), batch[0]!.site, batch[0]!.sv],
  });
  await tx.execute({
    sql: "INSERT INTO sync_log_batches (seq, n, changes) VALUES (?, ?, ?)",
    args: [Number(rs.rows[0]!.seq), batch.length, JSON.stringify(keysEntry(batch))],
  });
}

/**
 * Server: a pull page of the change log, in (after, upTo], leaving out one site's own
 * changes, as one JSON text. It holds whole log entries (a batch entry is never split) up to
 * `limit` changes or about `maxBytes`, but at least one entry: a batch larger than the
 * limit comes whole.
 */
export async function readLogJson(
  ctx: SyncContext,
  exec: Exec,
  opts: { after: number; upTo: number; exceptSite: string; limit: number; maxBytes: number },
): Promise<ChangesJson> {
  const range = "c.seq > ? AND c.seq <= ? AND c.site != ? AND c.op != 'marker'";
  const join = "FROM sync_changes c LEFT JOIN sync_log_batches b ON b.seq = c.seq";
  // First the entries' sizes alone, to choose them by the change limit; then the contents of
  // those only (an entry can hold a batch's worth of changes).
  const sizes = await exec.execute({
    sql: `SELECT c.seq, coalesce(b.n, 1) AS n ${join} WHERE ${range} ORDER BY c.seq LIMIT ?`,
    args: [opts.after, opts.upTo, opts.exceptSite, opts.limit],
  });
  let chosen = 0;
  for (let count = 0; chosen < sizes.rows.length; chosen++) {
    const n = Number(sizes.rows[chosen]!.n);
    if (chosen > 0 && count + n > opts.limit) break;
    count += n;
  }
  if (chosen === 0) return { json: "[]", count: 0, lastSeq: opts.after, more: false };
  const entries = await exec.execute({
    sql:
      `SELECT c.seq, c.op, c.sv, b.n, CASE WHEN c.op IN ('keys', 'batch') THEN b.changes ELSE ${changeJson("c")} END AS j ` +
      `${join} WHERE ${range} ORDER BY c.seq`,
    args: [opts.after, Number(sizes.rows[chosen - 1]!.seq), opts.exceptSite],
  });
  const parts: string[] = [];
  const rendered = new Map<string, Set<string>>(); // a row named by several entries goes once per page
  let count = 0;
  let bytes = 0;
  let taken = 0;
  for (const e of entries.rows) {
    const n = e.n === null ? 1 : Number(e.n);
    const seq = Number(e.seq);
    const text =
      e.j === null
        ? "" // (a batch entry without its contents: nothing to send)
        : e.op === "keys"
          ? await renderKeysEntry(
              ctx,
              exec,
              JSON.parse(String(e.j)) as KeysEntry,
              seq,
              Number(e.sv),
              rendered,
            )
          : e.op === "batch"
            ? String(e.j).slice(1, -1) // the logged changes, without the array's brackets
            : String(e.j);
    if (taken > 0 && bytes + text.length > opts.maxBytes) break;
    if (text) parts.push(text);
    count += n;
    bytes += text.length;
    taken++;
  }
  const more = taken < entries.rows.length || chosen < sizes.rows.length || sizes.rows.length === opts.limit;
  // (none at all: collected since the sizes were read, in a read outside a transaction)
  const lastSeq = taken ? Number(entries.rows[taken - 1]!.seq) : Number(sizes.rows[chosen - 1]!.seq);
  return { json: `[${parts.join(",")}]`, count, lastSeq, more };
}

export interface GcResult {
  /** change-log entries deleted (server) */
  changes: number;
  tombstones: number;
  /** entries up to this seq are gone; an edge with an older cursor must re-bootstrap */
  gcSeq: number;
}

/**
 * Collects tombstones older than the horizon and, on the server, the change-log prefix every
 * edge active within the horizon has pulled. An edge silent for longer than the horizon
 * gets "re-bootstrap" on its next pull instead of holding the log forever.
 */
export async function collectGarbage(ctx: SyncContext, horizonMs = DEFAULT_GC_HORIZON_MS): Promise<GcResult> {
  const wall = await ctx.clock.wallMs();
  const horizonStamp = hlcToHex(hlcFromParts(Math.max(0, wall - horizonMs)));
  return writeTransaction(ctx.client, async (tx) => {
    await foldLocal(tx, ctx); // the stamps of local changes must be safe before their rows go
    let changes = 0;
    let gcSeq = 0;
    if (ctx.role === "server") {
      const head = await headSeq(tx);
      const rs = await tx.execute({
        sql: "SELECT MIN(pull_cursor) AS c FROM sync_peers WHERE last_seen_at >= ?",
        args: [Date.now() - horizonMs],
      });
      const upTo = Math.min(head, rs.rows[0]!.c === null ? head : Number(rs.rows[0]!.c));
      changes = (
        await tx.execute({ sql: `DELETE FROM sync_changes WHERE seq <= ? AND ${KEEP_NEWEST}`, args: [upTo] })
      ).rowsAffected;
      await tx.execute({
        sql: `DELETE FROM sync_log_batches WHERE seq <= ? AND ${KEEP_NEWEST}`,
        args: [upTo],
      });
      const clock = await tx.execute({
        sql: "UPDATE sync_clock SET gc_seq = MAX(gc_seq, ?) WHERE id = 1 RETURNING gc_seq",
        args: [upTo],
      });
      gcSeq = Number(clock.rows[0]!.gc_seq);
    }
    // Dead (the delete is newer than every column write) and old — and, on the server, not
    // named by a keys entry still in the log: a pull renders the delete from its tombstone.
    const tomb = await tx.execute({
      sql:
        "DELETE FROM sync_versions WHERE del IS NOT NULL AND del < ? " +
        "AND NOT EXISTS (SELECT 1 FROM json_each(sync_versions.stamps) WHERE value > sync_versions.del)" +
        (ctx.role === "server"
          ? " AND (tbl, pk) NOT IN (SELECT e.value->>0, k.value FROM sync_changes c JOIN sync_log_batches b ON b.seq = c.seq, " +
            "json_each(b.changes) e, json_each(e.value->1) k WHERE c.op = 'keys' AND c.seq > ?)"
          : ""),
      args: ctx.role === "server" ? [horizonStamp, gcSeq] : [horizonStamp],
    });
    return { changes, tombstones: tomb.rowsAffected, gcSeq };
  });
}

/**
 * Server: runs collectGarbage every `intervalMs` (default hourly) until the returned
 * function is called. Edges collect their own tombstones in SyncClient.maintain().
 */
export function startGarbageCollection(
  ctx: SyncContext,
  opts: { horizonMs?: number; intervalMs?: number; onError?: (err: unknown) => void } = {},
): () => void {
  const timer = setInterval(() => {
    collectGarbage(ctx, opts.horizonMs).catch((err) => opts.onError?.(err));
  }, opts.intervalMs ?? 3600_000);
  timer.unref();
  return () => clearInterval(timer);
}
