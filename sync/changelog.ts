import type { Exec } from "./clock.ts";
import { foldLocal } from "./fold.ts";
import type { SyncContext } from "./install.ts";
import { writeTransaction } from "./lane.ts";
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

/** A change as JSON, built in SQL. A delete's stored values (for its tombstone) stay home. */
export const CHANGE_JSON =
  "json_object('seq', seq, 'tbl', tbl, 'pk', json(pk), 'op', op, 'cols', CASE WHEN op = 'delete' THEN NULL ELSE json(cols) END, " +
  "'hlc', printf('%016x', hlc), 'site', site, 'sv', sv)";

/** A page of changes as the JSON text of an array (what goes on the wire as is). */
export interface ChangesJson {
  json: string;
  count: number;
  lastSeq: number;
  /** the page stopped at its limit (or byte budget): there may be more */
  more: boolean;
}

/**
 * Changes in (after, upTo], oldest first, optionally leaving out one site's own, as one JSON
 * text built by SQLite — far cheaper than row objects, and sent on without re-encoding.
 * Stops early once the page passes `maxBytes` (but holds at least one change).
 */
export async function readChangesJson(
  exec: Exec,
  opts: { after: number; upTo?: number; exceptSite?: string; limit: number; maxBytes?: number },
): Promise<ChangesJson> {
  let limit = opts.limit;
  for (;;) {
    const rs = await exec.execute({
      // No ORDER BY inside the aggregate: it sorts every change again (a quarter of the
      // read's time). SQLite does not flatten a LIMITed subquery into an aggregate; it feeds
      // the aggregate the subquery's rows in their (rowid) order. Both readers tolerate a
      // page out of order anyway: the server refuses a push whose seqs do not increase
      // (SYNC_ORDER), and a pull page is applied as one set.
      sql:
        `SELECT json_group_array(${CHANGE_JSON}) AS j, COUNT(*) AS n, MAX(seq) AS last FROM ` +
        // (op 'marker': a placeholder that only holds a seq, see log-seq.ts)
        "(SELECT * FROM sync_changes WHERE seq > ? AND seq <= ? AND site != ? AND op != 'marker' ORDER BY seq LIMIT ?)",
      args: [opts.after, opts.upTo ?? Number.MAX_SAFE_INTEGER, opts.exceptSite ?? "", limit],
    });
    const row = rs.rows[0]!;
    const json = String(row.j);
    const count = Number(row.n);
    if (opts.maxBytes !== undefined && json.length > opts.maxBytes && count > 1) {
      limit = Math.max(1, Math.floor((count * opts.maxBytes) / json.length) - 1);
      continue;
    }
    return { json, count, lastSeq: row.last === null ? opts.after : Number(row.last), more: count === limit };
  }
}

export async function readChanges(
  exec: Exec,
  opts: { after: number; upTo?: number; exceptSite?: string; limit: number; maxBytes?: number },
): Promise<{ changes: WireChange[]; more: boolean }> {
  const page = await readChangesJson(exec, opts);
  return { changes: JSON.parse(page.json) as WireChange[], more: page.more };
}

/** Server: appends applied changes of two-way tables to the change log, for the other edges to pull. */
export async function appendChanges(tx: Exec, ctx: SyncContext, changes: WireChange[]): Promise<void> {
  // A batch comes from one site, mostly for one table and schema version: those go in as
  // parameters, in seq order one statement per run of equal ones. Per change the JSON
  // carries the key and the columns as nested JSON (SQLite renders them back as text with
  // `->`, no string-in-string escaping) and the HLC as its distance from the run's first
  // HLC (a bound int64): exact in a double for runs spanning up to ~4 years.
  let rows: unknown[][] = [];
  let group: WireChange | undefined;
  let baseMs = 0;
  let baseCounter = 0;
  const flush = async () => {
    if (!group || rows.length === 0) return;
    await tx.execute({
      sql:
        "INSERT INTO sync_changes (tbl, pk, op, cols, hlc, site, sv) " +
        "SELECT ?, value->0, value->>1, nullif(value->2, 'null'), ? + value->>3, ?, ? FROM json_each(?)",
      args: [group.tbl, hlcFromHex(group.hlc), group.site, group.sv, JSON.stringify(rows)],
    });
    rows = [];
  };
  for (const c of changes) {
    if (ctx.table(c.tbl)?.direction !== "both") continue;
    const ms = Number.parseInt(c.hlc.slice(0, 12), 16);
    const counter = Number.parseInt(c.hlc.slice(12), 16);
    let delta = (ms - baseMs) * 65536 + (counter - baseCounter);
    if (
      !group ||
      c.tbl !== group.tbl ||
      c.site !== group.site ||
      c.sv !== group.sv ||
      rows.length >= LOG_ROWS ||
      !Number.isSafeInteger(delta)
    ) {
      await flush();
      group = c;
      [baseMs, baseCounter, delta] = [ms, counter, 0];
    }
    rows.push([c.pk, c.op, c.cols ?? null, delta]);
  }
  await flush();
}

/** Change-log rows per INSERT statement. */
const LOG_ROWS = 2000;

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
    // Dead (the delete is newer than every column write) and old.
    const tomb = await tx.execute({
      sql:
        "DELETE FROM sync_versions WHERE del IS NOT NULL AND del < ? " +
        "AND NOT EXISTS (SELECT 1 FROM json_each(sync_versions.stamps) WHERE value > sync_versions.del)",
      args: [horizonStamp],
    });
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
      const clock = await tx.execute({
        sql: "UPDATE sync_clock SET gc_seq = MAX(gc_seq, ?) WHERE id = 1 RETURNING gc_seq",
        args: [upTo],
      });
      gcSeq = Number(clock.rows[0]!.gc_seq);
    }
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
