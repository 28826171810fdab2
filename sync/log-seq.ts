import type { Exec } from "./clock.ts";
import { SYNC_TABLE_STATEMENTS } from "./ddl.ts";

/*
 * How sync_changes numbers its rows. seq is a plain rowid, which SQLite assigns as max + 1:
 * cheaper than AUTOINCREMENT, whose counter row in sqlite_sequence every captured write
 * would update too. Seqs must still never be reused (cursors, acknowledgements and the fold
 * position all count on them only growing), so the newest row is never deleted.
 */

/** The last seq assigned, as SQL. */
export const HEAD_SEQ_SQL = "(SELECT coalesce(max(seq), 0) FROM sync_changes)";

/** Appended to every DELETE of sync_changes rows: the newest row stays. */
export const KEEP_NEWEST = `seq < ${HEAD_SEQ_SQL}`;

const CHANGES_CREATE = "CREATE TABLE IF NOT EXISTS `sync_changes`";
/** The table as ddl.ts creates it today: the rebuild takes its definition from there. */
const CHANGES_DDL = SYNC_TABLE_STATEMENTS.find((s) => s.startsWith(CHANGES_CREATE))!;

/**
 * Statements that rebuild a sync_changes created with AUTOINCREMENT (before this change) as
 * a plain rowid table, keeping every row; when the newest seq was already deleted, a marker
 * row holds its number (every cursor and acknowledgement is past it, and readers skip it).
 * Empty when there is nothing to upgrade. The capture triggers are dropped first (they name
 * the table; installSync creates them again right after), all inside installSync's transaction,
 * which this reads in.
 */
export async function changeLogUpgrade(tx: Exec): Promise<string[]> {
  const rs = await tx.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'sync_changes'");
  const sql = rs.rows[0]?.sql;
  if (typeof sql !== "string" || !/AUTOINCREMENT/i.test(sql)) return [];
  const triggers = await tx.execute(
    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'sync\\_%' ESCAPE '\\'",
  );
  return [
    ...triggers.rows.map((r) => `DROP TRIGGER IF EXISTS "${String(r.name).replaceAll('"', '""')}";`),
    CHANGES_DDL.replace(CHANGES_CREATE, "CREATE TABLE `sync_changes_rowid`"),
    "INSERT INTO sync_changes_rowid SELECT seq, tbl, pk, op, cols, hlc, site, sv FROM sync_changes;",
    "INSERT INTO sync_changes_rowid (seq, tbl, pk, op, cols, hlc, site, sv) " +
      "SELECT s.seq, '', '[]', 'marker', NULL, 0, '', 0 FROM sqlite_sequence s " +
      `WHERE s.name = 'sync_changes' AND s.seq > ${HEAD_SEQ_SQL};`,
    "DROP TABLE sync_changes;",
    "ALTER TABLE sync_changes_rowid RENAME TO sync_changes;",
    "DELETE FROM sqlite_sequence WHERE name = 'sync_changes';",
  ];
}
