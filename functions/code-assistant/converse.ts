import type { FunctionContext } from "../../runtime/function.ts";
import type { ChatMessage, ChatResult } from "../../runtime/llm/types.ts";
import { type Budget, fitHistory, inputTooLarge, messageTokens } from "./budget.ts";
import { userPrompt } from "./prompts.ts";
import type { CodeAssistantInput } from "./schema.ts";

export interface Turn {
  /** what is stored as the user's turn of the thread */
  user: string;
  result: ChatResult;
  history: { included: number; omitted: number };
}

/**
 * One model call with as much of the thread as fits behind the system prompt. The user
 * message itself must fit whole; if it does not, the caller decides (review splits it,
 * explain and generate refuse).
 */
export async function askWithHistory(
  ctx: FunctionContext,
  budget: Budget,
  system: string,
  history: ChatMessage[],
  user: string,
  format?: Record<string, unknown>,
): Promise<Omit<Turn, "user">> {
  const userTokens = await messageTokens(ctx.llm, budget.model, user);
  const fitted = await fitHistory(ctx.llm, budget.model, history, budget.room - userTokens);
  const messages: ChatMessage[] = [
    { role: "system", content: system },
    ...fitted.messages,
    { role: "user", content: user },
  ];
  const result = await ctx.llm.chat(messages, {
    model: budget.model,
    maxTokens: budget.answer,
    signal: ctx.signal,
    format,
  });
  return { result, history: { included: fitted.messages.length, omitted: fitted.omitted } };
}

/** explain and generate: the whole input in one call, or a 413 — never a cut input. */
export async function converse(
  input: CodeAssistantInput,
  ctx: FunctionContext,
  budget: Budget,
  system: string,
  history: ChatMessage[],
): Promise<Turn> {
  const user = userPrompt(input);
  const tokens = await messageTokens(ctx.llm, budget.model, user);
  if (tokens > budget.room) {
    const hint =
      input.action === "explain"
        ? "send a smaller part of it, or use action review, which splits large inputs into overlapping parts."
        : "send less existing code or shorter instructions.";
    throw inputTooLarge(
      input.action === "generate" ? "request" : input.diff ? "diff" : "code",
      tokens,
      budget,
      hint,
    );
  }
  return { user, ...(await askWithHistory(ctx, budget, system, history, user)) };
}
