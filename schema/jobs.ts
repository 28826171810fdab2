import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * The local (libSQL) queue. A job is claimed by writing a lease; a worker that dies
 * stops renewing it and the job becomes visible again when `lease_until` passes.
 */
export const jobs = sqliteTable(
  "jobs",
  {
    id: text("id").primaryKey(),
    queue: text("queue").notNull(),
    payload: text("payload").notNull(), // JSON
    status: text("status").notNull(), // queued | active | dead
    attempt: integer("attempt").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull().default(1),
    backoffMs: integer("backoff_ms").notNull().default(1000),
    runAt: integer("run_at").notNull(),
    leaseUntil: integer("lease_until"),
    workerId: text("worker_id"),
    lastError: text("last_error"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("jobs_ready").on(t.queue, t.status, t.runAt), index("jobs_lease").on(t.status, t.leaseUntil)],
);

export type JobRow = typeof jobs.$inferSelect;
