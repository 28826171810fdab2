import { TICK_SQL } from "./clock.ts";
import { SYNC_TABLE_STATEMENTS } from "./ddl.ts";
import { type ResolvedTable, type Role, sends, sqlIdent } from "./spec.ts";

/*
 * Change capture by SQLite triggers, generated from the drizzle definitions. A trigger runs
 * inside the writing statement's transaction, so the write, its outbox row and the clock
 * tick commit or vanish together — and raw SQL that bypasses drizzle is captured too.
 * Triggers skip while sync_clock.applying = 1 (remote changes being applied: no echo) and
 * on nodes whose role does not send the table (e.g. telemetry on the server).
 *
 * They do the least that must happen in the write's transaction: tick the clock, append
 * one row. Per-row stamps are folded into sync_versions later, in bulk (fold.ts). That is
 * not cosmetic: libSQL prepares every statement afresh, and SQLite compiles a table's
 * triggers into each statement that writes it, so every trigger statement costs every write.
 */

const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;
const NO_PATH = "'$.__sync_unchanged__'"; // a JSON path that matches nothing

const pkJson = (t: ResolvedTable, ref: string) =>
  `json_array(${t.pk.map((c) => `${ref}.${sqlIdent(c)}`).join(", ")})`;
const colsJson = (t: ResolvedTable, ref: string) =>
  `json_object(${t.cols.map((c) => `${lit(c)}, ${ref}.${sqlIdent(c)}`).join(", ")})`;
const changed = (c: string) => `NEW.${sqlIdent(c)} IS NOT OLD.${sqlIdent(c)}`;
/** Drops the unchanged columns from a JSON object keyed by column name. */
const onlyChanged = (t: ResolvedTable, obj: string) =>
  t.cols.length === 0
    ? obj
    : `json_remove(${obj}, ${t.cols.map((c) => `CASE WHEN ${changed(c)} THEN ${NO_PATH} ELSE '$.${c}' END`).join(", ")})`;
function guard(t: ResolvedTable): string {
  const role =
    t.direction === "up" ? " AND role = 'edge'" : t.direction === "down" ? " AND role = 'server'" : "";
  return `(SELECT applying = 0${role} FROM sync_clock WHERE id = 1)`;
}
/** The guard plus the table's row filter (SyncedTableSpec.where), on the row named `ref`. */
const when = (t: ResolvedTable, ref: "NEW" | "OLD") =>
  t.where ? `${guard(t)} AND (${t.where(ref)})` : guard(t);

function outbox(t: ResolvedTable, ref: string, op: string, cols: string): string {
  return (
    `INSERT INTO sync_changes (tbl, pk, op, cols, hlc, site, sv) SELECT ${lit(t.name)}, ${pkJson(t, ref)}, '${op}', ${cols}, ` +
    "hlc, site_id, schema_version FROM sync_clock WHERE id = 1;"
  );
}

// A delete carries the row's last values: folded into its tombstone, they let a later
// concurrent update resurrect the row whole. They are not sent over the wire.
const insertBody = (t: ResolvedTable) => [`${TICK_SQL};`, outbox(t, "NEW", "insert", colsJson(t, "NEW"))];
const deleteBody = (t: ResolvedTable) => [`${TICK_SQL};`, outbox(t, "OLD", "delete", colsJson(t, "OLD"))];

function trigger(name: string, event: string, t: ResolvedTable, when: string, body: string[]): string {
  const lines = body.map((s) => `  ${s}`);
  return `CREATE TRIGGER ${sqlIdent(name)} AFTER ${event} ON ${sqlIdent(t.name)} WHEN ${when} BEGIN\n${lines.join("\n")}\nEND;`;
}

const TRIGGER_KINDS = ["insert", "update", "rekey", "delete"] as const;
export const triggerName = (t: { name: string }, kind: (typeof TRIGGER_KINDS)[number]) =>
  `sync_${t.name}_${kind}`;

/** DROP + CREATE of the capture triggers of one table (idempotent, and picks up schema changes). */
export function tableTriggers(t: ResolvedTable): string[] {
  const out = TRIGGER_KINDS.map((k) => `DROP TRIGGER IF EXISTS ${sqlIdent(triggerName(t, k))};`);
  out.push(trigger(triggerName(t, "insert"), "INSERT", t, when(t, "NEW"), insertBody(t)));
  if (t.mode === "insert-only") return out;

  const samePk = t.pk.map((c) => `NEW.${sqlIdent(c)} IS OLD.${sqlIdent(c)}`).join(" AND ");
  if (t.cols.length > 0) {
    const anyChanged = t.cols.map(changed).join(" OR ");
    const updatedCols = t.mode === "row" ? colsJson(t, "NEW") : onlyChanged(t, colsJson(t, "NEW"));
    out.push(
      trigger(
        triggerName(t, "update"),
        `UPDATE OF ${t.cols.map(sqlIdent).join(", ")}`,
        t,
        `${when(t, "NEW")} AND (${samePk}) AND (${anyChanged})`,
        [`${TICK_SQL};`, outbox(t, "NEW", "update", updatedCols)],
      ),
    );
  }
  // "UPDATE OF": SQLite compiles a trigger into an UPDATE only if the statement sets one of
  // its columns, so ordinary writes do not pay for the rekey trigger, nor writes of
  // local-only columns (api_keys.last_used_at) for any of them.
  // A changed primary key is a different row: replicate it as a delete plus an insert.
  out.push(
    trigger(
      triggerName(t, "rekey"),
      `UPDATE OF ${t.pk.map(sqlIdent).join(", ")}`,
      t,
      `${when(t, "NEW")} AND NOT (${samePk})`,
      [...deleteBody(t), ...insertBody(t)],
    ),
  );
  if (t.captureDeletes)
    out.push(trigger(triggerName(t, "delete"), "DELETE", t, when(t, "OLD"), deleteBody(t)));
  return out;
}

/**
 * Everything sync needs in a database (tables, then triggers), one idempotent statement per
 * entry. With `role`, only the tables that role sends get triggers (the others' are
 * dropped): SQLite compiles a table's triggers into every statement that writes it, even
 * when their WHEN clause is false, so a server's invocation and audit writes would pay for
 * edge-only capture. Without it (a shipped migration), every table gets its role-guarded
 * triggers.
 */
export function syncStatements(tables: ResolvedTable[], role?: Role): string[] {
  const dropOnly = (t: ResolvedTable) =>
    TRIGGER_KINDS.map((k) => `DROP TRIGGER IF EXISTS ${sqlIdent(triggerName(t, k))};`);
  return [
    ...SYNC_TABLE_STATEMENTS,
    ...tables.flatMap((t) => (role === undefined || sends(role, t) ? tableTriggers(t) : dropOnly(t))),
  ];
}

/**
 * syncStatements as a drizzle migration file (statements separated by drizzle's
 * breakpoint marker): write it to schema/migrations/NNNN_sync.sql with
 * `drizzle-kit generate --custom`. Triggers are beyond drizzle-kit's schema diffing.
 */
export function syncMigrationSql(tables: ResolvedTable[]): string {
  return `${syncStatements(tables).join("\n--> statement-breakpoint\n")}\n`;
}

/**
 * Captures the rows a table already holds when sync is first set up on this replica, as
 * inserts stamped with one fresh HLC (one stamp per row and column is all merge needs), so
 * enabling sync on a node with data does not leave that data behind.
 */
export function backfillSql(t: ResolvedTable): string[] {
  const stmts = [
    TICK_SQL,
    `INSERT INTO sync_changes (tbl, pk, op, cols, hlc, site, sv) SELECT ${lit(t.name)}, ${pkJson(t, "t")}, 'insert', ` +
      `${colsJson(t, "t")}, c.hlc, c.site_id, c.schema_version FROM ${sqlIdent(t.name)} AS t, sync_clock AS c WHERE c.id = 1` +
      (t.where ? ` AND (${t.where("t")})` : ""),
  ];
  return stmts;
}
