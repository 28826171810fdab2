import { getTableConfig, type SQLiteTable } from "drizzle-orm/sqlite-core";
import { ConfigError } from "../runtime/errors.ts";
import type { MergeMode } from "./merge.ts";

/** Who writes a table's changes: both ways, edge → server ("up") or server → edge ("down"). */
export type Direction = "both" | "up" | "down";
export type Role = "edge" | "server";

/** One synced table. `sync/tables.ts` lists them. */
export interface SyncedTableSpec {
  table: SQLiteTable;
  mode: MergeMode;
  direction: Direction;
  /** columns that stay local to each node: never captured, never written by a remote change */
  localColumns?: string[];
  /** replicate deletes (default true; insert-only tables never do): false keeps local pruning local */
  captureDeletes?: boolean;
  /**
   * Only rows matching this SQL predicate are sent. `row` is how the predicate must name the
   * row ("NEW" or "OLD" in a trigger, an alias in a backfill), e.g.
   * (row) => `${row}.distributed = 1`. Rows that never match never leave the node.
   */
  where?: (row: string) => string;
  /**
   * A column naming the node a row belongs to (e.g. invocations.node_id): a receiver rejects
   * a change from a site whose row names another node, so no edge can write rows that pass
   * for the server's own (or another edge's).
   */
  ownerColumn?: string;
  /**
   * Insert-only edge → server tables whose key is only unique per node (an autoincrement
   * seq): the server stores them in this table instead, keyed by (siteColumn, key...).
   */
  receiveInto?: { table: SQLiteTable; siteColumn: string };
}

/** A spec checked against its drizzle definition, with what the SQL generators need. */
export interface ResolvedTable {
  name: string;
  mode: MergeMode;
  direction: Direction;
  /** primary-key columns (SQL names), in key order */
  pk: string[];
  /** their types, in key order: a key value must be a string for a text column, an integer for an integer one */
  pkTypes: Array<"text" | "integer">;
  /** replicated non-key columns (SQL names) */
  cols: string[];
  /** replicated non-key columns an INSERT cannot do without (NOT NULL, no default) */
  required: string[];
  captureDeletes: boolean;
  /** whether this replica keeps per-row stamps for it (needed to merge or snapshot it) */
  versioned: boolean;
  /** SQL predicate on the row named `row`: which rows are sent (see SyncedTableSpec.where) */
  where?: (row: string) => string;
  /** the table a receiving server writes to, and the column that takes the sending site */
  into?: { name: string; siteColumn: string };
  /** the column that must name the site a change comes from (see SyncedTableSpec.ownerColumn) */
  ownerColumn?: string;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function resolveTable(spec: SyncedTableSpec): ResolvedTable {
  const config = getTableConfig(spec.table);
  const name = config.name;
  const fail = (why: string) => new ConfigError(`sync: table "${name}" cannot be synced: ${why}`);
  if (!IDENT.test(name)) throw fail("its name must be a plain SQL identifier");
  const pk =
    config.primaryKeys[0]?.columns.map((c) => c.name) ??
    config.columns.filter((c) => c.primary).map((c) => c.name);
  if (pk.length === 0) throw fail("it has no primary key");
  const local = new Set(spec.localColumns ?? []);
  for (const c of local)
    if (!config.columns.some((col) => col.name === c)) throw fail(`localColumns names unknown column "${c}"`);
  const cols: string[] = [];
  const required: string[] = [];
  const pkTypes: Array<"text" | "integer"> = pk.map(() => "text");
  for (const column of config.columns) {
    const type = column.getSQLType().toLowerCase();
    if (!IDENT.test(column.name)) throw fail(`column "${column.name}" must be a plain SQL identifier`);
    if (pk.includes(column.name)) {
      // Keys travel as JSON arrays and index sync_versions as text; only text and integer
      // keys render identically from SQL (json_array) and from JS (JSON.stringify).
      if (type !== "text" && type !== "integer")
        throw fail(`key column "${column.name}" must be text or integer`);
      pkTypes[pk.indexOf(column.name)] = type;
      continue;
    }
    if (local.has(column.name)) continue;
    if (type.startsWith("blob")) throw fail(`column "${column.name}" is a blob; JSON cannot carry it`);
    cols.push(column.name);
    if (column.notNull && !column.hasDefault) required.push(column.name);
  }
  if (spec.mode === "insert-only" && spec.direction !== "up") {
    throw fail("insert-only tables can only flow edge → server (they carry no stamps to snapshot)");
  }
  return {
    ...(spec.where ? { where: spec.where } : {}),
    ...(spec.ownerColumn ? { ownerColumn: checkOwner(spec.ownerColumn, cols, fail) } : {}),
    ...(spec.receiveInto
      ? {
          into: resolveInto(
            spec,
            config.columns.map((c) => c.name),
            fail,
          ),
        }
      : {}),
    name,
    mode: spec.mode,
    direction: spec.direction,
    pk,
    pkTypes,
    cols,
    required,
    captureDeletes: spec.mode !== "insert-only" && spec.captureDeletes !== false,
    versioned: spec.mode !== "insert-only",
  };
}

function checkOwner(column: string, cols: string[], fail: (why: string) => Error): string {
  if (!cols.includes(column)) throw fail(`ownerColumn "${column}" is not a replicated column`);
  return column;
}

function resolveInto(
  spec: SyncedTableSpec,
  columns: string[],
  fail: (why: string) => Error,
): { name: string; siteColumn: string } {
  const { table, siteColumn } = spec.receiveInto!;
  if (spec.mode !== "insert-only" || spec.direction !== "up")
    throw fail("receiveInto is for insert-only edge → server tables");
  const target = getTableConfig(table);
  const names = new Set(target.columns.map((c) => c.name));
  if (!IDENT.test(target.name)) throw fail(`receiveInto table "${target.name}" needs a plain SQL name`);
  if (!names.has(siteColumn)) throw fail(`receiveInto table "${target.name}" has no column "${siteColumn}"`);
  const missing = columns.filter((c) => !names.has(c));
  if (missing.length) throw fail(`receiveInto table "${target.name}" lacks column(s) ${missing.join(", ")}`);
  return { name: target.name, siteColumn };
}

/** Does a replica with this role capture local writes to the table (and send them)? */
export const sends = (role: Role, t: ResolvedTable): boolean =>
  t.direction === "both" || (role === "edge" ? t.direction === "up" : t.direction === "down");

/** Does a replica with this role accept remote changes to the table? */
export const receives = (role: Role, t: ResolvedTable): boolean =>
  t.direction === "both" || (role === "edge" ? t.direction === "down" : t.direction === "up");

/** The JSON key of a row: its primary-key values as a JSON array (same text SQL's json_array makes). */
export const rowKey = (pk: readonly unknown[]): string => JSON.stringify(pk);

/** A table or column name quoted for SQL (names are plain identifiers: resolveTable checks them). */
export const sqlIdent = (ident: string): string => `"${ident}"`;
