import { createHash } from "node:crypto";
import type { LLM } from "../../runtime/llm/types.ts";
import { unconfiguredLLM } from "../../runtime/llm/unconfigured.ts";

/**
 * Deterministic embeddings with meaning, for knowledge tests with known answers: a
 * bag-of-words vector (each lower-cased word hashed to a few of `dim` slots, summed,
 * unit length). Texts sharing words are close; unrelated texts are near-orthogonal.
 * fake-ollama's embeddings are random per text, fine for shapes but not for ranking.
 */
const STOP = new Set(["the", "and", "for", "with", "which", "how", "what", "this", "that", "are", "from"]);

export function bagOfWords(text: string, dim: number): number[] {
  const v = new Array<number>(dim).fill(0);
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    if (word.length < 3 || STOP.has(word)) continue; // function words: noise for a bag of words
    const h = createHash("sha256").update(word).digest();
    for (let i = 0; i < 3; i++) v[h.readUInt16BE(i * 2) % dim]! += h[8 + i]! & 1 ? 1 : -1;
  }
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  return v.map((x) => x / norm);
}

/** Wraps an LLM (default: none) so `embed` is bag-of-words; `dims` maps model → dimension (default 64). */
export function withBagOfWords(
  base: LLM = unconfiguredLLM(),
  dims: Record<string, number> = {},
  calls: string[][] = [],
): LLM {
  return {
    ...base,
    provider: base.provider,
    embed: async (input, opts = {}) => {
      calls.push(input);
      return input.map((t) => bagOfWords(t, dims[opts.model ?? ""] ?? 64));
    },
  };
}
