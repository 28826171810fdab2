import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * Conversation threads of the code assistant. A thread id is chosen by the client and is
 * scoped to the principal that uses it: two credentials using the same thread id get two
 * separate threads, so guessing an id never reveals someone else's code.
 */
export const conversations = sqliteTable(
  "conversations",
  {
    id: text("id").primaryKey(), // UUIDv7
    threadId: text("thread_id").notNull(),
    principal: text("principal").notNull(),
    function: text("function").notNull(), // the agent the thread belongs to
    createdAt: integer("created_at").notNull(), // unix ms
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("conversations_thread").on(t.principal, t.function, t.threadId)],
);

/** The turns of a thread, in order (UUIDv7 ids sort by creation). */
export const conversationMessages = sqliteTable(
  "conversation_messages",
  {
    id: text("id").primaryKey(), // UUIDv7
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    role: text("role").notNull(), // user | assistant
    content: text("content").notNull(),
    // No FK: a synchronous invocation's row is written only when it ends, after this one.
    invocationId: text("invocation_id"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("conversation_messages_thread").on(t.conversationId, t.id)],
);

export type ConversationRow = typeof conversations.$inferSelect;
export type ConversationMessageRow = typeof conversationMessages.$inferSelect;
