import { AppError } from "../../runtime/errors.ts";
import type { FunctionContext } from "../../runtime/function.ts";

/** Texts per ctx.llm.embed call: big enough to amortize a round trip, small enough to report progress often. */
export const EMBED_BATCH = 32;

/**
 * Embeds texts in batches through the LLM layer, reporting `onBatch(done)` after each.
 * When `dimension` is given every vector must have it: a model that changed under a
 * collection (an Ollama tag re-pulled as a different model) is a clear 409, not a
 * libSQL insert error deep in a batch.
 */
export async function embedAll(
  ctx: Pick<FunctionContext, "llm" | "signal">,
  texts: string[],
  model: string,
  opts: { dimension?: number; onBatch?: (done: number) => Promise<void> | void } = {},
): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += EMBED_BATCH) {
    ctx.signal.throwIfAborted();
    const batch = texts.slice(i, i + EMBED_BATCH);
    const vectors = await ctx.llm.embed(batch, { model, signal: ctx.signal });
    for (const v of vectors) {
      if (opts.dimension !== undefined && v.length !== opts.dimension) {
        throw new AppError(
          409,
          "EMBEDDING_DIMENSION_MISMATCH",
          `${model} returned ${v.length}-dimensional embeddings but the collection holds ${opts.dimension}-dimensional ones. Reindex the collection (sutazai knowledge reindex) to switch models.`,
        );
      }
      if (v.length === 0 || v.some((x) => !Number.isFinite(x))) {
        throw new AppError(502, "EMBEDDING_INVALID", `${model} returned an empty or non-finite embedding.`);
      }
      out.push(Float32Array.from(v));
    }
    await opts.onBatch?.(out.length);
  }
  return out;
}

/** What is embedded for a chunk: its heading path gives a short chunk the context it lacks. */
export const embeddingText = (title: string | null, headingPath: string[], text: string): string => {
  const context = [title, ...headingPath].filter((s): s is string => !!s && !text.startsWith(`# ${s}`));
  return context.length ? `${context.join(" > ")}\n\n${text}` : text;
};
