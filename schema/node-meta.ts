import { sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Small facts about this node that must survive restarts (node id, signing keys, ...). */
export const nodeMeta = sqliteTable("node_meta", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});
