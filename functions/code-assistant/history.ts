import { and, desc, eq } from "drizzle-orm";
import type { Db } from "../../runtime/db.ts";
import { uuidv7 } from "../../runtime/ids.ts";
import type { ChatMessage } from "../../runtime/llm/types.ts";
import { conversationMessages, conversations } from "../../schema/index.ts";

/** A thread is (principal, function, threadId): one caller's id never reaches another's history. */
export interface ThreadKey {
  principal: string;
  function: string;
  threadId: string;
}

/** Turns read back at most; the token budget then keeps the newest that fit. */
const MAX_TURNS_READ = 40;

/** The thread's newest messages, oldest first (empty for a new thread). */
export async function loadHistory(db: Db, key: ThreadKey): Promise<ChatMessage[]> {
  const rows = await db
    .select({ role: conversationMessages.role, content: conversationMessages.content })
    .from(conversationMessages)
    .innerJoin(conversations, eq(conversations.id, conversationMessages.conversationId))
    .where(
      and(
        eq(conversations.principal, key.principal),
        eq(conversations.function, key.function),
        eq(conversations.threadId, key.threadId),
      ),
    )
    .orderBy(desc(conversationMessages.id))
    .limit(MAX_TURNS_READ);
  return rows
    .reverse()
    .map((r) => ({ role: r.role === "assistant" ? "assistant" : "user", content: r.content }));
}

/** Appends one question and its answer, creating the thread on its first turn. */
export async function appendTurn(
  db: Db,
  key: ThreadKey,
  turn: { user: string; assistant: string; invocationId: string },
): Promise<void> {
  const now = Date.now();
  await db.transaction(async (tx) => {
    await tx
      .insert(conversations)
      .values({ id: uuidv7(), ...key, createdAt: now, updatedAt: now })
      .onConflictDoUpdate({
        target: [conversations.principal, conversations.function, conversations.threadId],
        set: { updatedAt: now },
      });
    const [thread] = await tx
      .select({ id: conversations.id })
      .from(conversations)
      .where(
        and(
          eq(conversations.principal, key.principal),
          eq(conversations.function, key.function),
          eq(conversations.threadId, key.threadId),
        ),
      );
    const base = { conversationId: thread!.id, invocationId: turn.invocationId, createdAt: now };
    await tx.insert(conversationMessages).values([
      { id: uuidv7(), role: "user", content: turn.user, ...base },
      { id: uuidv7(), role: "assistant", content: turn.assistant, ...base },
    ]);
  });
}
