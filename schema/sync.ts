import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/*
 * Bookkeeping of the sync layer (sync/). HLC values are 64-bit integers (ms << 16 | counter)
 * and do not fit a JS number: read them with printf('%016x', hlc) in SQL (sync/ does), never
 * through a plain `select()` — @libsql/client throws a RangeError on unsafe integers.
 * sync/ddl.ts holds the same DDL for installSync until these tables are in a migration.
 */

/** One row (id = 1): this replica's identity and hybrid logical clock. */
export const syncClock = sqliteTable("sync_clock", {
  id: integer("id").primaryKey(),
  siteId: text("site_id").notNull(),
  role: text("role").notNull(), // edge | server: decides which tables the triggers capture
  hlc: integer("hlc").notNull().default(0), // int64, see above
  // 1 only inside an apply transaction, so capture triggers skip replicated writes (no echo).
  // Other connections never see it set: it is reset before that transaction commits.
  applying: integer("applying").notNull().default(0),
  schemaVersion: integer("schema_version").notNull().default(0),
  // Simulated clock skew for tests and drills; 0 in production. Added to the wall clock in
  // both the triggers and the skew check, so a replica has one notion of "now".
  wallOffsetMs: integer("wall_offset_ms").notNull().default(0),
  gcSeq: integer("gc_seq").notNull().default(0), // server: change-log entries <= this are gone
  // This replica's own changes up to this sync_changes seq are folded into sync_versions.
  foldedSeq: integer("folded_seq").notNull().default(0),
});

/**
 * Captured changes, in commit order. On an edge this is the outbox (rows are deleted once
 * the server acknowledged them); on the server it is the change log edges pull from (rows
 * are deleted by GC). Not AUTOINCREMENT: that keeps its counter in sqlite_sequence, one more
 * row written by every captured write (measured: ~10% of a synced single-row write).
 * Instead the newest row is never deleted (see KEEP_NEWEST), so max(seq) + 1, SQLite's
 * choice for a plain rowid, never reuses a seq.
 */
export const syncChanges = sqliteTable("sync_changes", {
  seq: integer("seq").primaryKey(),
  tbl: text("tbl").notNull(),
  pk: text("pk").notNull(), // JSON array of the primary-key values
  op: text("op").notNull(), // insert | update | delete; "batch" (sync_log_batches), "marker" (log-seq.ts)
  cols: text("cols"), // JSON object of the written columns (only the changed ones for an update)
  hlc: integer("hlc").notNull(), // int64
  site: text("site").notNull(), // the replica that made the change
  sv: integer("sv").notNull(), // schema version of that replica
});

/**
 * Server: the changes of one applied push batch, logged as one entry. Its row in
 * sync_changes (op "batch", site = the edge) holds its place in the log: seq is the last
 * of the n positions the batch takes there, so cursors and lag still count changes.
 * One entry instead of n rows: per-row log inserts were about 13% of a push's time.
 */
export const syncLogBatches = sqliteTable("sync_log_batches", {
  seq: integer("seq").primaryKey(), // = the sync_changes row's seq
  n: integer("n").notNull(), // changes in the batch
  changes: text("changes").notNull(), // the wire changes, as a JSON array
});

/**
 * Per-row merge metadata: the stamp ("<hlc hex16>:<site>") of every column's last write
 * (`{"*": stamp}` for row-level tables; or one JSON string when every column has the same
 * stamp, see sync/stored-stamps.ts), the latest delete, and the column values while
 * the row is not in its table (deleted, or incomplete), so a later write can resurrect it.
 * Remote changes update it as they are applied; local changes are folded in from
 * sync_changes in bulk before anything needs it (sync/fold.ts).
 */
export const syncVersions = sqliteTable(
  "sync_versions",
  {
    tbl: text("tbl").notNull(),
    pk: text("pk").notNull(),
    stamps: text("stamps").notNull().default("{}"),
    del: text("del"),
    vals: text("vals"),
  },
  (t) => [primaryKey({ columns: [t.tbl, t.pk] })],
);

/**
 * The other side(s). Server: one row per edge site. Edge: one row, site = "upstream".
 * acked_seq: sender's outbox seq applied by the receiver; pull_cursor: server change-log seq
 * the edge has applied. Both move in the same transaction as the data they cover.
 */
export const syncPeers = sqliteTable("sync_peers", {
  site: text("site").primaryKey(),
  peerSite: text("peer_site"), // edge: the server's site id, to notice a different/reset server
  keyId: text("key_id"), // server: the credential the edge last used
  ackedSeq: integer("acked_seq").notNull().default(0),
  pullCursor: integer("pull_cursor").notNull().default(0),
  pending: integer("pending").notNull().default(0),
  schemaVersion: integer("schema_version"),
  lastSeenAt: integer("last_seen_at"),
  lastPushAt: integer("last_push_at"),
  lastPullAt: integer("last_pull_at"),
  skewRejections: integer("skew_rejections").notNull().default(0),
  lastError: text("last_error"),
});

/** Changes that could not be applied: `held` (unknown columns, retried after an upgrade) or `rejected`. */
export const syncQuarantine = sqliteTable(
  "sync_quarantine",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    at: integer("at").notNull(),
    kind: text("kind").notNull(), // held | rejected
    site: text("site").notNull(),
    tbl: text("tbl").notNull(),
    pk: text("pk").notNull(),
    change: text("change").notNull(), // the wire change, JSON
    reason: text("reason").notNull(),
  },
  // a change already held for a row is looked up by the row (sync/quarantine.ts)
  (t) => [index("sync_quarantine_row").on(t.tbl, t.pk)],
);

/** Synced tables this replica has set up (so existing rows are captured once, at first install). */
export const syncTables = sqliteTable("sync_tables", {
  tbl: text("tbl").primaryKey(),
  installedAt: integer("installed_at").notNull(),
  // The columns a uniform sync_versions.stamps stands for in this table (sync/stored-stamps.ts).
  uniformCols: text("uniform_cols"),
});

/** Edge, during a re-bootstrap: the rows the snapshot contained, to sweep the rest afterwards. */
export const syncBootstrap = sqliteTable(
  "sync_bootstrap",
  { tbl: text("tbl").notNull(), pk: text("pk").notNull() },
  (t) => [primaryKey({ columns: [t.tbl, t.pk] })],
);
