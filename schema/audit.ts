import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * The tamper-evident audit log: a hash chain in `seq` order. Each row's
 * hash = sha256(prev_hash + canonical JSON of the row without `hash`), so altering,
 * deleting or reordering a row breaks the chain at that row (runtime/audit/log.ts).
 * AUTOINCREMENT (not a plain rowid) keeps `sqlite_sequence`, which lets `verify` notice
 * rows deleted from the end of the chain.
 */
export const auditLog = sqliteTable(
  "audit_log",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    id: text("id").notNull(), // UUIDv7
    ts: integer("ts").notNull(), // unix ms
    actor: text("actor").notNull(), // principal id, or "anonymous"
    role: text("role"),
    action: text("action").notNull(), // auth.failed | key.created | key.revoked | invocation | config.changed ...
    target: text("target"),
    outcome: text("outcome").notNull(), // success | failure | denied ...
    details: text("details"), // canonical JSON, or null
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [
    uniqueIndex("audit_log_id").on(t.id),
    index("audit_log_action").on(t.action, t.seq),
    index("audit_log_actor").on(t.actor, t.seq),
    index("audit_log_ts").on(t.ts),
  ],
);

export type AuditRow = typeof auditLog.$inferSelect;

/**
 * Server only: the audit logs of edge nodes, received by sync (edge → server, insert-only).
 * Each edge's rows keep their own seq, prev_hash and hash, so the server can verify every
 * edge's chain on its own (`GET /v1/audit/verify?node=`): an edge cannot quietly rewrite
 * what it already reported, and the server's copy survives the loss of the box.
 */
export const edgeAuditLog = sqliteTable(
  "edge_audit_log",
  {
    site: text("site").notNull(), // the edge's node id (its sync site id)
    seq: integer("seq").notNull(), // the entry's seq in the edge's own chain
    id: text("id").notNull(),
    ts: integer("ts").notNull(),
    actor: text("actor").notNull(),
    role: text("role"),
    action: text("action").notNull(),
    target: text("target"),
    outcome: text("outcome").notNull(),
    details: text("details"),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.site, t.seq] }),
    index("edge_audit_log_action").on(t.site, t.action, t.seq),
    index("edge_audit_log_ts").on(t.ts),
  ],
);

export type EdgeAuditRow = typeof edgeAuditLog.$inferSelect;
