import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * One row per invocation, whatever triggered it. Insert-only from the sync layer's
 * point of view: a row is written by the node that ran it and never merged.
 */
export const invocations = sqliteTable(
  "invocations",
  {
    id: text("id").primaryKey(),
    function: text("function").notNull(),
    trigger: text("trigger").notNull(), // http | queue | workflow | cli | mqtt | cron
    status: text("status").notNull(), // queued | running | succeeded | failed | dead | cancelled
    attempt: integer("attempt").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull().default(1),
    input: text("input"), // JSON; kept for async jobs so they can be re-driven
    output: text("output"), // JSON
    error: text("error"), // JSON {code, message, status}
    progress: text("progress"), // JSON, set by long-running functions
    idempotencyKey: text("idempotency_key"),
    principal: text("principal"),
    // Async only: the caller as the job carries it (role, grants) and where it runs, so a job
    // the queue lost can be put back exactly as it was (Invoker.requeueLost, redrive).
    caller: text("caller"), // JSON Principal
    placement: text("placement"), // null | "server"
    nodeId: text("node_id").notNull(),
    queuedAt: integer("queued_at"),
    startedAt: integer("started_at"),
    finishedAt: integer("finished_at"),
    durationMs: integer("duration_ms"),
    createdAt: integer("created_at").notNull().default(sql`(unixepoch('subsec') * 1000)`),
  },
  (t) => [
    // Per node: an Idempotency-Key is the caller's promise to one node, and two edges may
    // well use the same keys; their rows meet on the server by sync and must both stay.
    uniqueIndex("invocations_node_idempotency").on(t.nodeId, t.function, t.idempotencyKey),
    index("invocations_function_status").on(t.function, t.status, t.id),
    index("invocations_status").on(t.status, t.id),
  ],
);

export type InvocationRow = typeof invocations.$inferSelect;
