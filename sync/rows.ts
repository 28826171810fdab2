import type { Exec } from "./clock.ts";
import { isAlive, type Register, type RowState, rowStamp, valuesOf } from "./merge.ts";
import { type ResolvedTable, sqlIdent } from "./spec.ts";
import { NO_STAMP } from "./stamp.ts";
import { parseStamps, uniformColumns, uniformStampsSql } from "./stored-stamps.ts";

/*
 * Bulk reads and writes of one synced table's rows and their merge metadata. Rows travel
 * to and from SQLite as ONE JSON text per statement (json_each in, json_group_array out):
 * a short statement is cheap to prepare, and one string crossing into JS beats thousands
 * of row objects. Used only inside apply/fold transactions.
 */
const PER_STATEMENT = 2000;

/** A row as this replica holds it. `inTable`: present in the user table (not deleted/incomplete). */
export interface LocalRow {
  state: RowState;
  inTable: boolean;
}

/** One row to write: its key, key values, what is stored now (if loaded) and the merged state. */
export interface RowWrite {
  key: string;
  pk: unknown[];
  local?: LocalRow;
  merged: RowState;
}

export interface VersionRow {
  stamps: Record<string, string>;
  del?: string;
  vals?: Record<string, unknown>;
}

export function chunks<T>(items: T[], size = PER_STATEMENT): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** SQL matching a table's key against the JSON array of key arrays bound as the next parameter. */
function keyIn(t: ResolvedTable): string {
  if (t.pk.length === 1) return `${sqlIdent(t.pk[0]!)} IN (SELECT value->>0 FROM json_each(?))`;
  const paths = t.pk.map((_, i) => `value->>${i}`).join(", ");
  return `(${t.pk.map(sqlIdent).join(", ")}) IN (SELECT ${paths} FROM json_each(?))`;
}

async function jsonRows(tx: Exec, sql: string, args: Array<string | number>): Promise<unknown[]> {
  const rs = await tx.execute({ sql, args });
  return JSON.parse(String(rs.rows[0]!.j ?? "[]"));
}

export async function loadVersions(
  tx: Exec,
  t: ResolvedTable,
  keys: string[],
): Promise<Map<string, VersionRow>> {
  const out = new Map<string, VersionRow>();
  for (const part of chunks(keys)) {
    const rows = await jsonRows(
      tx,
      "SELECT json_group_array(json_array(pk, stamps, del, vals)) AS j FROM sync_versions WHERE tbl = ? AND pk IN (SELECT value FROM json_each(?))",
      [t.name, JSON.stringify(part)],
    );
    for (const [pk, stamps, del, vals] of rows as Array<[string, string, string | null, string | null]>) {
      out.set(pk, {
        stamps: parseStamps(t, stamps),
        del: del ?? undefined,
        vals: vals === null ? undefined : JSON.parse(vals),
      });
    }
  }
  return out;
}

/** The keys, of these, that have stamps here (a sync_versions row). */
export async function versionedKeys(tx: Exec, t: ResolvedTable, keys: string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const part of chunks(keys)) {
    const found = await jsonRows(
      tx,
      "SELECT json_group_array(pk) AS j FROM sync_versions WHERE tbl = ? AND pk IN (SELECT value FROM json_each(?))",
      [t.name, JSON.stringify(part)],
    );
    for (const pk of found as string[]) out.add(pk);
  }
  return out;
}

/** A SQL expression over the stored rows with these keys, by row key (rows not in the table are absent). */
async function loadByKey<T>(
  tx: Exec,
  t: ResolvedTable,
  pks: unknown[][],
  expr: string,
): Promise<Map<string, T>> {
  const out = new Map<string, T>();
  for (const part of chunks(pks)) {
    const found = await jsonRows(
      tx,
      `SELECT json_group_array(json_array(json_array(${t.pk.map(sqlIdent).join(", ")}), ${expr})) AS j FROM ${sqlIdent(t.name)} WHERE ${keyIn(t)}`,
      [JSON.stringify(part)],
    );
    for (const [pk, value] of found as Array<[unknown[], T]>) out.set(JSON.stringify(pk), value);
  }
  return out;
}

/** One column of the stored rows with these keys, by row key. */
export const loadColumn = (tx: Exec, t: ResolvedTable, pks: unknown[][], column: string) =>
  loadByKey<unknown>(tx, t, pks, sqlIdent(column));

/** Loads the stored state of rows: stamps from sync_versions, values from the table or the tombstone. */
export async function loadLocal(
  tx: Exec,
  t: ResolvedTable,
  rows: Array<{ key: string; pk: unknown[] }>,
): Promise<Map<string, LocalRow>> {
  const versions = t.versioned
    ? await loadVersions(
        tx,
        t,
        rows.map((r) => r.key),
      )
    : new Map<string, VersionRow>();
  const colsJson = `json_object(${t.cols.map((c) => `'${c}', ${sqlIdent(c)}`).join(", ")})`;
  const present = await loadByKey<Record<string, unknown>>(
    tx,
    t,
    rows.map((r) => r.pk),
    colsJson,
  );
  const out = new Map<string, LocalRow>();
  for (const { key } of rows) {
    const ver = versions.get(key);
    const row = present.get(key);
    if (!ver && !row) continue;
    out.set(key, { state: stateOf(t, ver, row ?? ver?.vals), inTable: row !== undefined });
  }
  return out;
}

/** A row's replicated state from its stamps and its values (a row without stamps predates sync: oldest). */
export function stateOf(
  t: ResolvedTable,
  ver: VersionRow | undefined,
  values: Record<string, unknown> | undefined,
): RowState {
  const stampOf = (c: string) => (t.mode === "row" ? ver?.stamps["*"] : ver?.stamps[c]) ?? NO_STAMP;
  const cols: Record<string, Register> = {};
  if (values) for (const c of t.cols) if (Object.hasOwn(values, c)) cols[c] = { v: values[c], s: stampOf(c) };
  return ver?.del === undefined ? { cols } : { cols, del: ver.del };
}

/** The stamps of a state as stored in sync_versions.stamps (built by hand: it runs once per row applied). */
export function stampsJson(t: ResolvedTable, state: RowState): string {
  if (t.mode === "row") return `{"*":${JSON.stringify(rowStamp(state) ?? NO_STAMP)}}`;
  let out = "";
  let last: string | undefined;
  let lastJson = "";
  for (const c in state.cols) {
    const s = state.cols[c]!.s;
    if (s !== last) [last, lastJson] = [s, JSON.stringify(s)]; // the columns of one write share a stamp
    out += `${out ? "," : ""}"${c}":${lastJson}`; // column names are plain identifiers (resolveTable)
  }
  return `{${out}}`;
}

/** [key, stamps JSON, delete stamp, values JSON of a row not in its table] */
export type VersionWrite = [string, string, string | null, string | null];

/**
 * Writes sync_versions rows. `onlyNew`: insert, touching no existing row, and report
 * whether every row was new — the optimistic path for fresh rows (see apply.ts).
 */
export async function writeVersions(
  tx: Exec,
  t: ResolvedTable,
  rows: VersionWrite[],
  opts: { onlyNew?: boolean } = {},
): Promise<boolean> {
  let inserted = 0;
  for (const part of chunks(rows)) {
    const rs = await tx.execute({
      sql:
        "INSERT INTO sync_versions (tbl, pk, stamps, del, vals) SELECT ?, value->>0, value->>1, value->>2, value->>3 FROM json_each(?) WHERE true " +
        (opts.onlyNew
          ? "ON CONFLICT (tbl, pk) DO NOTHING"
          : "ON CONFLICT (tbl, pk) DO UPDATE SET stamps = excluded.stamps, del = excluded.del, vals = excluded.vals"),
      args: [t.name, JSON.stringify(part)],
    });
    inserted += rs.rowsAffected;
  }
  return inserted === rows.length;
}

/**
 * Inserts the stamps of rows this replica has never seen, touching no existing row, and
 * reports whether every row was new (the optimistic path of apply.ts). A row one write made
 * has one stamp for all its columns: SQLite builds its stamps object from that stamp
 * (grouped by set of columns), which spares building and escaping the JSON per row here.
 */
export async function insertNewVersions(tx: Exec, t: ResolvedTable, writes: RowWrite[]): Promise<boolean> {
  const groups = new Map<string, Array<[string, string, string | null]>>();
  const other: VersionWrite[] = [];
  for (const w of writes) {
    const stamp = t.mode === "row" ? rowStamp(w.merged) : sharedStamp(w.merged);
    if (stamp === undefined) {
      other.push([w.key, stampsJson(t, w.merged), w.merged.del ?? null, null]);
      continue;
    }
    const names = t.mode === "row" ? "*" : columnSet(t, w.merged.cols);
    const row: [string, string, string | null] = [w.key, stamp, w.merged.del ?? null];
    const group = groups.get(names);
    if (group) group.push(row);
    else groups.set(names, [row]);
  }
  let inserted = 0;
  for (const [names, rows] of groups) inserted += await insertUniformVersions(tx, t, names, rows);
  if (other.length > 0 && !(await writeVersions(tx, t, other, { onlyNew: true }))) return false;
  return inserted + other.length === writes.length;
}

/**
 * Inserts sync_versions rows [key, stamp, delete stamp] whose columns `names` (comma-separated;
 * "*" for a row-mode table) all carry the one stamp, touching no existing row; returns how
 * many were inserted.
 */
export async function insertUniformVersions(
  tx: Exec,
  t: ResolvedTable,
  names: string,
  rows: Array<[string, string, string | null]>,
): Promise<number> {
  let inserted = 0;
  for (const part of chunks(rows)) {
    // (every value->> is a measurable share of the statement: skip absent delete stamps)
    const del = part.some((r) => r[2] !== null) ? "value->>2" : "NULL";
    const paths = { key: "value->>0", stamp: "value->>1", del };
    inserted += await insertUniformVersionsJson(tx, t, names, JSON.stringify(part), paths);
  }
  return inserted;
}

/**
 * insertUniformVersions for rows given as one JSON text, an array of rows from which `paths`
 * (SQL over json_each's `value`) pick the key, the stamp and the delete stamp; they may use
 * `extra`, bound from ?3 on.
 */
export async function insertUniformVersionsJson(
  tx: Exec,
  t: ResolvedTable,
  names: string,
  json: string,
  paths: { key: string; stamp: string; del: string },
  extra: string[] = [],
): Promise<number> {
  // column names are plain identifiers (resolveTable), "*" the row stamp of a row-mode table;
  // a stamp on every column is stored in the uniform form (stored-stamps.ts)
  const stamps =
    names === uniformColumns(t)
      ? uniformStampsSql(paths.stamp)
      : `json_object(${names
          .split(",")
          .map((c) => `'${c}', ${paths.stamp}`)
          .join(", ")})`;
  const rs = await tx.execute({
    sql:
      `INSERT INTO sync_versions (tbl, pk, stamps, del) SELECT ?1, ${paths.key}, ${stamps}, ${paths.del} FROM json_each(?2) WHERE true ` +
      "ON CONFLICT (tbl, pk) DO NOTHING",
    args: [t.name, json, ...extra],
  });
  return rs.rowsAffected;
}

/** The stamp every column of the state shares, if they share one. */
function sharedStamp(state: RowState): string | undefined {
  let shared: string | undefined;
  for (const c in state.cols) {
    const s = state.cols[c]!.s;
    if (shared === undefined) shared = s;
    else if (s !== shared) return undefined;
  }
  return shared;
}

/**
 * The table's columns this state has registers for, as a comma-separated key in table order
 * (rows with the same key share a statement). Runs once per row written: a row that has every
 * column, the common case, costs one pass and no allocation.
 */
function columnSet(t: ResolvedTable, cols: Record<string, Register>): string {
  let n = 0; // (own keys only: a column may be called "constructor")
  for (const c of t.cols) if (Object.hasOwn(cols, c)) n++;
  if (n < t.cols.length) return t.cols.filter((c) => Object.hasOwn(cols, c)).join(",");
  let all = allColumns.get(t);
  if (all === undefined) {
    all = t.cols.join(",");
    allColumns.set(t, all);
  }
  return all;
}

const allColumns = new WeakMap<ResolvedTable, string>();

/** Whether an INSERT of this state would satisfy the table's NOT NULL columns. */
export const isComplete = (t: ResolvedTable, state: RowState): boolean =>
  t.required.every((c) => Object.hasOwn(state.cols, c));

/**
 * Materializes merged states: live rows complete enough to insert are upserted, dead rows
 * deleted, and (with `stamps`) their metadata stored — for rows not in the table, with the
 * values, so a later change can bring them back.
 */
export async function writeRows(
  tx: Exec,
  t: ResolvedTable,
  writes: RowWrite[],
  opts: { stamps: boolean },
): Promise<void> {
  const upserts = new Map<string, RowWrite[]>(); // one statement shape per set of columns
  const deletes: unknown[][] = [];
  const versions: VersionWrite[] = [];
  for (const w of writes) {
    const alive = isAlive(t.mode, w.merged);
    const inTable = w.local?.inTable ?? false;
    const materialize = alive && (inTable || isComplete(t, w.merged));
    if (materialize) {
      const names = columnSet(t, w.merged.cols);
      const group = upserts.get(names);
      if (group) group.push(w);
      else upserts.set(names, [w]);
    } else if (inTable) {
      deletes.push(w.pk);
    }
    if (opts.stamps && t.versioned) {
      const vals = materialize ? null : JSON.stringify(valuesOf(w.merged));
      versions.push([w.key, stampsJson(t, w.merged), w.merged.del ?? null, vals]);
    }
  }
  for (const [names, group] of upserts) {
    const columns = names ? names.split(",") : [];
    await upsertValues(
      tx,
      t,
      columns,
      group.map((w) => {
        const row: unknown[] = [...w.pk];
        for (const c of columns) row.push(w.merged.cols[c]!.v);
        return row;
      }),
    );
  }
  for (const part of chunks(deletes)) {
    await tx.execute({
      sql: `DELETE FROM ${sqlIdent(t.name)} WHERE ${keyIn(t)}`,
      args: [JSON.stringify(part)],
    });
  }
  if (versions.length) await writeVersions(tx, t, versions);
}

/** Inserts or updates rows given as [key values..., values of `names`...]. */
export async function upsertValues(
  tx: Exec,
  t: ResolvedTable,
  names: string[],
  rows: unknown[][],
): Promise<void> {
  const columns = [...t.pk, ...names];
  // Insert-only tables keep what they have; the others overwrite the merged columns.
  const onConflict =
    t.mode === "insert-only" || names.length === 0
      ? "DO NOTHING"
      : `DO UPDATE SET ${names.map((c) => `${sqlIdent(c)} = excluded.${sqlIdent(c)}`).join(", ")}`;
  const sql =
    `INSERT INTO ${sqlIdent(t.name)} (${columns.map(sqlIdent).join(", ")}) SELECT ${columns.map((_, i) => `value->>${i}`).join(", ")} ` +
    `FROM json_each(?) WHERE true ON CONFLICT (${t.pk.map(sqlIdent).join(", ")}) ${onConflict}`;
  for (const part of chunks(rows)) await tx.execute({ sql, args: [JSON.stringify(part)] });
}
