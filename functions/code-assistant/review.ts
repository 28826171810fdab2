import type { FunctionContext } from "../../runtime/function.ts";
import type { ChatMessage } from "../../runtime/llm/types.ts";
import { type Budget, inputTooLarge, messageTokens } from "./budget.ts";
import { askWithHistory, type Turn } from "./converse.ts";
import { chunkLines, keepInRange, type LineRange, mergeFindings } from "./lines.ts";
import { reviewPrompt, splitLines } from "./prompts.ts";
import { type CodeAssistantInput, type Finding, SEVERITIES } from "./schema.ts";

/** Parts one review may be split into: beyond this the caller should send less. */
export const MAX_PARTS = 24;
/** Lines repeated at the start of each part from the end of the one before. */
export const OVERLAP_LINES = 10;

/**
 * The structured answer asked of the model. `line` has no `minimum` on purpose: an
 * impossible line must reach our line check (and be dropped and counted), not make the
 * whole answer invalid and cost a re-ask. String lengths are bounded so a grammar-driven
 * model (embedded provider) cannot ramble past maxTokens and cut its JSON in half.
 */
export const REVIEW_FORMAT = {
  type: "object",
  properties: {
    findings: {
      type: "array",
      maxItems: 50,
      items: {
        type: "object",
        properties: {
          line: { type: "integer" },
          severity: { enum: [...SEVERITIES] },
          message: { type: "string", maxLength: 400 },
          suggestion: { type: "string", maxLength: 400 },
        },
        required: ["line", "severity", "message", "suggestion"],
        additionalProperties: false,
      },
    },
  },
  required: ["findings"],
  additionalProperties: false,
} as const;

export interface ReviewResult extends Omit<Turn, "result"> {
  model: string;
  findings: Finding[];
  lines: number;
  dropped: number;
  chunks?: number;
}

const findingsOf = (json: unknown): Finding[] => (json as { findings: Finding[] }).findings;

/**
 * Reviews in one call when the numbered input fits the context (with as much thread history
 * as fits), else in overlapping parts without history, each part's findings line-checked
 * against the lines it showed. Refuses (413) what would need more than MAX_PARTS calls.
 */
export async function review(
  input: CodeAssistantInput,
  ctx: FunctionContext,
  budget: Budget,
  system: string,
  history: ChatMessage[],
): Promise<ReviewResult> {
  const lines = splitLines(input.diff ?? input.code ?? "");
  const whole = reviewPrompt(input, lines, 1);
  const tokens = await messageTokens(ctx.llm, budget.model, whole);
  const format = REVIEW_FORMAT as unknown as Record<string, unknown>;
  if (tokens <= budget.room) {
    const turn = await askWithHistory(ctx, budget, system, history, whole, format);
    const checked = keepInRange(findingsOf(turn.result.json), { first: 1, last: lines.length });
    return {
      user: whole,
      history: turn.history,
      model: turn.result.model,
      findings: checked.kept.sort((a, b) => a.line - b.line),
      lines: lines.length,
      dropped: checked.dropped,
    };
  }
  const ranges = await splitToFit(input, ctx, budget, lines, tokens / whole.length);
  const parts: Array<{ range: LineRange; findings: Finding[] }> = [];
  let model = "";
  for (const [i, range] of ranges.entries()) {
    await ctx.progress({ action: "review", part: i + 1, parts: ranges.length, lines: lines.length });
    const of = { part: i + 1, parts: ranges.length, total: lines.length };
    const prompt = reviewPrompt(input, lines.slice(range.first - 1, range.last), range.first, of);
    const turn = await askWithHistory(ctx, budget, system, [], prompt, format);
    model = turn.result.model;
    parts.push({ range, findings: findingsOf(turn.result.json) });
  }
  const merged = mergeFindings(parts);
  return {
    user: whole,
    history: { included: 0, omitted: history.length },
    model,
    findings: merged.findings,
    lines: lines.length,
    dropped: merged.dropped,
    chunks: ranges.length,
  };
}

/**
 * Line ranges whose prompts each fit the room. Costs per line are estimated from the
 * whole prompt's tokens per character, then every part is counted for real; if the
 * estimate was too optimistic the split is redone with a smaller budget.
 */
async function splitToFit(
  input: CodeAssistantInput,
  ctx: FunctionContext,
  budget: Budget,
  lines: string[],
  tokensPerChar: number,
): Promise<LineRange[]> {
  const estimated = Math.round(tokensPerChar * lines.join("\n").length);
  const width = String(lines.length).length + 2;
  const costs = lines.map((l) => Math.ceil((l.length + width + 1) * tokensPerChar) + 1);
  const header = await messageTokens(
    ctx.llm,
    budget.model,
    reviewPrompt(input, [""], lines.length, { part: MAX_PARTS, parts: MAX_PARTS, total: lines.length }),
  );
  let lineBudget = budget.room - header;
  for (let attempt = 0; attempt < 4; attempt++) {
    const split = chunkLines(costs, lineBudget, OVERLAP_LINES);
    if ("lineTooLong" in split) {
      const hint = `line ${split.lineTooLong} alone does not fit; break it up or use a model with a larger context.`;
      throw inputTooLarge(`line ${split.lineTooLong}`, costs[split.lineTooLong - 1]!, budget, hint);
    }
    if (split.ranges.length > MAX_PARTS) {
      const hint = `reviewing it would take ${split.ranges.length} model calls (at most ${MAX_PARTS}); send a part of it.`;
      throw inputTooLarge(input.diff ? "diff" : "code", estimated, budget, hint);
    }
    let fits = true;
    for (const [i, r] of split.ranges.entries()) {
      const of = { part: i + 1, parts: split.ranges.length, total: lines.length };
      const prompt = reviewPrompt(input, lines.slice(r.first - 1, r.last), r.first, of);
      if ((await messageTokens(ctx.llm, budget.model, prompt)) > budget.room) fits = false;
    }
    if (fits) return split.ranges;
    lineBudget = Math.floor(lineBudget * 0.75);
  }
  throw inputTooLarge(
    input.diff ? "diff" : "code",
    estimated,
    budget,
    "it could not be split into parts that fit.",
  );
}
