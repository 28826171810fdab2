import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * A workflow: a DAG of steps, each an async invocation. Its state lives here (not in
 * memory) so any process sharing the database can advance it and it survives restarts.
 */
export const workflows = sqliteTable(
  "workflows",
  {
    id: text("id").primaryKey(), // UUIDv7
    status: text("status").notNull(), // pending | running | succeeded | failed | cancelled
    onFailure: text("on_failure").notNull(), // stop | continue
    // JSON Principal of the caller that started it: every step runs as that principal.
    principal: text("principal").notNull(),
    createdAt: integer("created_at").notNull().default(sql`(unixepoch('subsec') * 1000)`),
    startedAt: integer("started_at"),
    finishedAt: integer("finished_at"),
    error: text("error"), // JSON {code, message}
  },
  (t) => [index("workflows_status").on(t.status)],
);

export const workflowSteps = sqliteTable(
  "workflow_steps",
  {
    workflowId: text("workflow_id")
      .notNull()
      .references(() => workflows.id, { onDelete: "cascade" }),
    stepId: text("step_id").notNull(),
    // Position in the submitted spec, so views list steps in the order the caller wrote them.
    position: integer("position").notNull(),
    function: text("function").notNull(),
    input: text("input").notNull(), // JSON, $refs unresolved
    dependsOn: text("depends_on").notNull(), // JSON string[]
    status: text("status").notNull(), // pending | queued | running | succeeded | failed | skipped | cancelled
    invocationId: text("invocation_id"),
    output: text("output"), // JSON
    error: text("error"), // JSON {code, message, status?}
    attempts: integer("attempts").notNull().default(0),
    queuedAt: integer("queued_at"),
    startedAt: integer("started_at"),
    finishedAt: integer("finished_at"),
  },
  (t) => [
    primaryKey({ columns: [t.workflowId, t.stepId] }),
    index("workflow_steps_invocation").on(t.invocationId),
    index("workflow_steps_status").on(t.status),
  ],
);

export type WorkflowRow = typeof workflows.$inferSelect;
export type WorkflowStepRow = typeof workflowSteps.$inferSelect;
