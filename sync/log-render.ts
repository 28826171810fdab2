import type { Exec } from "./clock.ts";
import type { SyncContext } from "./install.ts";
import type { SnapshotRow, WireChangeTuple } from "./protocol.ts";
import { loadRowStates } from "./row-states.ts";
import { chunks } from "./rows.ts";
import { type ResolvedTable, rowKey, sqlIdent } from "./spec.ts";
import { stampHlc, stampSite } from "./stamp.ts";
import { columnStampSql, isUniformSql } from "./stored-stamps.ts";

/*
 * A pushed batch is logged by the keys of the rows it touched (a "keys" entry of the change
 * log, see changelog.ts), not by a copy of its changes: copying them cost about 14% of a
 * push (bench: 1.92 s → 1.65 s for 100k changes). A pull renders such an entry from the rows'
 * current state instead, as changes: per row, one per distinct column stamp, and the
 * tombstone as a delete. Merge is per-column last-writer-wins, idempotent and commutative,
 * so those changes leave a replica exactly where the logged ones and everything merged
 * into the rows since would: a later write may arrive early, and again with its own entry.
 */

/**
 * The logged form of a batch: per table, the keys of the rows it touched, each a row's key
 * values (entries logged before held their rowKey text, sync_versions.pk, and still do).
 * The key values are what JSON.stringify writes fastest, and SQLite reads them back as the
 * rowKey text (`value` of json_each over the list: the GC finds named tombstones that way).
 */
export type KeysEntry = Array<[table: string, keys: Array<readonly unknown[] | string>]>;

/** A batch's changes as a keys entry (a row changed twice is named twice: rendering takes it once). */
export function keysEntry(changes: Array<{ tbl: string; pk: readonly unknown[] }>): KeysEntry {
  const byTable = new Map<string, Array<readonly unknown[]>>();
  for (const c of changes) {
    const keys = byTable.get(c.tbl);
    if (keys) keys.push(c.pk);
    else byTable.set(c.tbl, [c.pk]);
  }
  return [...byTable];
}

/**
 * The changes a keys entry stands for, as the JSON of compact changes without the enclosing
 * brackets ("" when none is left: rows since collected, tables no longer synced). They carry
 * the entry's seq and schema version. Rows in `rendered` (table → keys) are left out, having
 * gone in this page already as they are now; the rest are added to it.
 */
export async function renderKeysEntry(
  ctx: SyncContext,
  exec: Exec,
  entry: KeysEntry,
  seq: number,
  sv: number,
  rendered: Map<string, Set<string>> = new Map(),
): Promise<string> {
  const parts: string[] = [];
  const out: WireChangeTuple[] = [];
  for (const [tbl, keys] of entry) {
    const t = ctx.table(tbl);
    if (!t?.versioned) continue;
    let done = rendered.get(tbl);
    if (!done) {
      done = new Set();
      rendered.set(tbl, done);
    }
    const todo: string[] = [];
    for (const k of keys) {
      const key = typeof k === "string" ? k : rowKey(k);
      if (done.has(key)) continue;
      done.add(key);
      todo.push(key);
    }
    for (const part of chunks(todo)) {
      const rs = await exec.execute({ sql: wholeRowsSql(t), args: [seq, sv, t.name, JSON.stringify(part)] });
      const row = rs.rows[0]!;
      if (row.j !== null) parts.push(String(row.j));
      const others = String(row.others);
      if (others === "[]") continue;
      const rows = await loadRowStates(exec, t, "v.pk IN (SELECT value FROM json_each(?))", [others]);
      for (const r of rows) rowChanges(t, r, seq, sv, out);
    }
  }
  if (out.length) parts.push(JSON.stringify(out).slice(1, -1));
  return parts.join(",");
}

const wholeRowsSqlCache = new WeakMap<ResolvedTable, string>();

/**
 * The common case in SQL alone: a live row whose columns all carry one stamp is one insert,
 * rendered as JSON text by SQLite (`j`, comma-separated). The keys of the other rows come
 * back as `others` for rowChanges. Args: seq, sv, table, the keys as a JSON array.
 */
function wholeRowsSql(t: ResolvedTable): string {
  let sql = wholeRowsSqlCache.get(t);
  if (sql) return sql;
  const first = columnStampSql("v.stamps", t.mode === "row" ? "*" : t.cols[0]!);
  // (stamps in the uniform form are one stamp on every column: stored-stamps.ts)
  const explicit = (c: string) => `v.stamps->>'${c}'`;
  const sameStamp = t.cols.slice(1).map((c) => `${explicit(c)} = ${explicit(t.cols[0]!)}`);
  const uniform =
    t.mode === "row" || sameStamp.length === 0
      ? `${first} <> ''`
      : `${first} <> '' AND (${isUniformSql("v.stamps")} OR (${sameStamp.join(" AND ")}))`;
  const join = t.pk.map((c, i) => `t.${sqlIdent(c)} = v.pk->>${i}`).join(" AND ");
  const values = `json_object(${t.cols.map((c) => `'${c}', t.${sqlIdent(c)}`).join(", ")})`;
  sql =
    'SELECT group_concat(CASE WHEN w THEN printf(\'[%d,%s,%s,"insert",%s,"%s",%s,%d]\', ?1, json_quote(tbl), pk, r, ' +
    "substr(s, 1, 16), json_quote(substr(s, 18)), ?2) END, ',') AS j, json_group_array(pk) FILTER (WHERE NOT w) AS others " +
    `FROM (SELECT v.tbl, v.pk, ${first} AS s, coalesce(v.del IS NULL AND t.${sqlIdent(t.pk[0]!)} IS NOT NULL AND ${uniform}, 0) AS w, ` +
    `${values} AS r FROM (SELECT * FROM sync_versions WHERE tbl = ?3 AND pk IN (SELECT value FROM json_each(?4))) v ` +
    `LEFT JOIN ${sqlIdent(t.name)} t ON ${join})`;
  wholeRowsSqlCache.set(t, sql);
  return sql;
}

/**
 * A row's state as changes: its tombstone as a delete, and one change per distinct column
 * stamp (an insert when one stamp covers every column of a live row). A value without a
 * stamp (older than sync) has no write to stand for and stays out.
 */
export function rowChanges(
  t: ResolvedTable,
  row: SnapshotRow,
  seq: number,
  sv: number,
  out: WireChangeTuple[],
): void {
  const pk = row.pk;
  if (row.del) out.push([seq, t.name, pk, "delete", null, stampHlc(row.del), stampSite(row.del), sv]);
  const byStamp = new Map<string, Record<string, SnapshotRow["cols"][string][0]>>();
  let n = 0;
  for (const c in row.cols) {
    const [value, stamp] = row.cols[c]!;
    if (!stamp) continue;
    let cols = byStamp.get(stamp);
    if (!cols) {
      cols = {};
      byStamp.set(stamp, cols);
    }
    cols[c] = value;
    n++;
  }
  const whole = !row.del && byStamp.size === 1 && n === t.cols.length;
  for (const [stamp, cols] of byStamp)
    out.push([seq, t.name, pk, whole ? "insert" : "update", cols, stampHlc(stamp), stampSite(stamp), sv]);
}
