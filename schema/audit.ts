import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

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
