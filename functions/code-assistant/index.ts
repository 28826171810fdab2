import { defineFunction, type FunctionContext } from "../../runtime/function.ts";
import { makeBudget } from "./budget.ts";
import { converse } from "./converse.ts";
import { appendTurn, loadHistory, type ThreadKey } from "./history.ts";
import { extractCode, systemPrompt } from "./prompts.ts";
import { review } from "./review.ts";
import {
  type CodeAssistantInput,
  type CodeAssistantOutput,
  codeAssistantInput,
  codeAssistantOutput,
} from "./schema.ts";

export { REVIEW_FORMAT } from "./review.ts";
export { codeAssistantInput, codeAssistantOutput } from "./schema.ts";

const NAME = "code-assistant";

/**
 * Explains, reviews or writes code with the node's LLM. Examples:
 *
 *   {"action": "explain", "code": "const x = a ?? b;", "language": "typescript"}
 *   {"action": "review", "diff": "--- a/x.ts\n+++ b/x.ts\n...", "threadId": "pr-42"}
 *   {"action": "generate", "instructions": "a debounce helper", "language": "typescript"}
 *
 * Streams tokens when invoked with `Accept: text/event-stream` (the platform tees ctx.llm).
 */
export const codeAssistant = defineFunction({
  name: NAME,
  description:
    "Code assistant: action explain (text), review (findings [{line, severity, message, suggestion}], line numbers checked against the input) or generate (code from instructions) for a code snippet or a diff. threadId keeps a conversation (your own) across calls. Inputs larger than the model's context are reviewed in overlapping parts or refused with 413, never cut.",
  input: codeAssistantInput,
  output: codeAssistantOutput,
  timeoutMs: 300_000,
  // A retry re-runs the model (minutes on a gateway) and appends the turn again: the caller decides.
  retries: 0,
  handler: run,
});

async function run(input: CodeAssistantInput, ctx: FunctionContext): Promise<CodeAssistantOutput> {
  const system = systemPrompt(input);
  const budget = await makeBudget(ctx.llm, input.model, system);
  const key: ThreadKey | undefined = input.threadId
    ? { principal: ctx.principal.id, function: NAME, threadId: input.threadId }
    : undefined;
  const history = key ? await loadHistory(ctx.db, key) : [];
  const base = { action: input.action, threadId: input.threadId };

  let out: CodeAssistantOutput;
  let answer: string;
  let asked: string;
  if (input.action === "review") {
    const r = await review(input, ctx, budget, system, history);
    out = {
      ...base,
      model: r.model,
      findings: r.findings,
      lineCheck: { policy: "drop", lines: r.lines, dropped: r.dropped },
      ...(r.chunks ? { chunks: r.chunks } : {}),
      history: r.history,
    };
    answer = JSON.stringify({ findings: r.findings });
    asked = r.user;
  } else {
    const t = await converse(input, ctx, budget, system, history);
    const text = t.result.content;
    out = {
      ...base,
      model: t.result.model,
      text,
      ...(input.action === "generate" ? { code: extractCode(text) } : {}),
      history: t.history,
    };
    answer = text;
    asked = t.user;
  }
  if (key) await appendTurn(ctx.db, key, { user: asked, assistant: answer, invocationId: ctx.invocationId });
  return out;
}
