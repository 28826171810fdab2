import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Key-value state that functions share through `ctx.state`; replicated by sync/. */
export const state = sqliteTable(
  "state",
  {
    namespace: text("namespace").notNull(),
    key: text("key").notNull(),
    value: text("value").notNull(), // JSON
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.namespace, t.key] })],
);
