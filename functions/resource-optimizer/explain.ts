import type { FunctionContext } from "../../runtime/function.ts";
import type { Recommendations } from "./policy.ts";

const EXPLAIN_TIMEOUT_MS = 20_000;

/**
 * A plain-language explanation of decisions already made. Optional by design: any failure
 * (no provider, daemon down, timeout) is reported next to the recommendations, never
 * instead of them.
 */
export async function explain(
  ctx: FunctionContext,
  recs: Recommendations,
  model?: string,
): Promise<{ explanation: string } | { explanationUnavailable: string }> {
  if (ctx.llm.provider === "none") return { explanationUnavailable: "no LLM provider is configured" };
  const prompt =
    "Explain these resource recommendations for an operator in a few plain sentences. " +
    "Do not change them and do not add new ones; quote the numbers given.\n\n" +
    digest(recs);
  try {
    const res = await ctx.llm.generate(prompt, {
      model,
      maxTokens: 256,
      timeoutMs: EXPLAIN_TIMEOUT_MS,
      signal: ctx.signal,
    });
    const text = res.text.trim();
    return text ? { explanation: text } : { explanationUnavailable: "the model answered with nothing" };
  } catch (err) {
    ctx.signal.throwIfAborted(); // the invocation itself was cancelled: that is not the LLM's failure
    const code = (err as { code?: string }).code;
    return { explanationUnavailable: `${code ? `${code}: ` : ""}${(err as Error).message}` };
  }
}

/** One line per decision, with its reason (which quotes the numbers): short enough for small contexts. */
export function digest(recs: Recommendations): string {
  return [
    ...recs.concurrency.map((c) => `- run at most ${c.recommended} "${c.function}" at once (${c.reason})`),
    ...recs.models.map((m) => `- "${m.function}" should use ${m.model ?? "the default model"} (${m.reason})`),
    `- LLM-heavy work should run ${recs.placement.llmWork === "server" ? "on the server" : "locally"} (${recs.placement.reason})`,
  ].join("\n");
}
