import { AppError } from "../../runtime/errors.ts";
import type { ChatMessage, LLM } from "../../runtime/llm/types.ts";

/** Most tokens an answer may take; a quarter of a small context when that is less. */
export const MAX_ANSWER_TOKENS = 1024;
/** Chat templates wrap each message in role markers; this covers them (generously). */
export const PER_MESSAGE_OVERHEAD = 8;

/** How the model's context is shared out for one call. */
export interface Budget {
  model: string | undefined;
  context: number;
  /** reserved for the answer (also its maxTokens) */
  answer: number;
  /** left for the user message and history after the system prompt and the answer */
  room: number;
}

export async function makeBudget(llm: LLM, model: string | undefined, system: string): Promise<Budget> {
  const context = await llm.contextSize(model);
  const answer = Math.max(32, Math.min(MAX_ANSWER_TOKENS, Math.floor(context / 4)));
  const systemTokens = (await llm.countTokens(system, model)) + PER_MESSAGE_OVERHEAD;
  return { model, context, answer, room: context - answer - systemTokens };
}

export const messageTokens = async (llm: LLM, model: string | undefined, text: string) =>
  (await llm.countTokens(text, model)) + PER_MESSAGE_OVERHEAD;

/**
 * The newest turns of a thread that fit in `room` tokens, in order. Older turns that do not
 * fit are left out and counted (the output reports it), never cut in the middle; the kept
 * history starts with a user turn so the model never sees an answer without its question.
 */
export async function fitHistory(
  llm: LLM,
  model: string | undefined,
  history: ChatMessage[],
  room: number,
): Promise<{ messages: ChatMessage[]; omitted: number }> {
  let used = 0;
  let start = history.length;
  for (let i = history.length - 1; i >= 0; i--) {
    const cost = await messageTokens(llm, model, history[i]!.content);
    if (used + cost > room) break;
    used += cost;
    start = i;
  }
  while (start < history.length && history[start]!.role !== "user") start++;
  return { messages: history.slice(start), omitted: start };
}

/** 413 for an input no single call can hold, saying by how much and what to do instead. */
export function inputTooLarge(what: string, tokens: number, budget: Budget, hint: string): AppError {
  return new AppError(
    413,
    "INPUT_TOO_LARGE",
    `The ${what} is about ${tokens} tokens, but the model${budget.model ? ` ${budget.model}` : ""} holds ` +
      `${budget.context} tokens of context and only ${Math.max(0, budget.room)} are left for it after the ` +
      `instructions and ${budget.answer} tokens reserved for the answer. Nothing was cut: ${hint}`,
  );
}
