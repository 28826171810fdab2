import type { FunctionContext } from "../../runtime/function.ts";
import type { ChatMessage } from "../../runtime/llm/types.ts";
import { checkEmbeddingModel, requireCollection } from "./collections.ts";
import type { AskInput, SearchHit } from "./schema.ts";
import { searchCollection } from "./search.ts";

/** What `ask` says, without calling the model, when nothing relevant was retrieved. */
export const DONT_KNOW = "I don't know: the knowledge base has nothing relevant to this question.";

const SYSTEM = [
  "You answer questions using ONLY the numbered sources below.",
  "Cite every claim with the number of its source in square brackets, like [1] or [2][3].",
  "If the sources do not contain the answer, say that you don't know. Never invent facts or sources.",
  "Be concise.",
].join(" ");

export interface Citation extends SearchHit {
  /** the number the answer cites it by: [n] */
  n: number;
}

/** The prompt: numbered sources (title › headings, then the text), then the question. */
export function buildMessages(question: string, sources: Citation[]): ChatMessage[] {
  const blocks = sources.map((s) => {
    const where = [s.title ?? s.documentKey, ...s.headingPath].join(" › ");
    return `[${s.n}] ${where}\n${s.text}`;
  });
  return [
    { role: "system", content: `${SYSTEM}\n\nSources:\n\n${blocks.join("\n\n")}` },
    { role: "user", content: question },
  ];
}

/** The source numbers an answer cites, in order of first use, restricted to real sources. */
export function citedNumbers(answer: string, sourceCount: number): number[] {
  const seen: number[] = [];
  for (const m of answer.matchAll(/\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]/g)) {
    for (const part of m[1]!.split(",")) {
      const n = Number(part.trim());
      if (n >= 1 && n <= sourceCount && !seen.includes(n)) seen.push(n);
    }
  }
  return seen;
}

/**
 * Retrieval-augmented answer: hybrid search, keep the sources at or above `minSimilarity`
 * (cosine, so the threshold means the same whatever the fusion did), and answer from them
 * with [n] citations. With no source left it answers DONT_KNOW without calling the model:
 * a small model given irrelevant context invents, so it is not asked. Tokens stream
 * through ctx.llm (the invoke endpoint's SSE mode forwards them).
 */
export async function ask(ctx: FunctionContext, input: AskInput) {
  const collection = await requireCollection(ctx.db, input.collection);
  checkEmbeddingModel(collection, input.embeddingModel);
  const hits = await searchCollection(ctx, collection, input.question, "hybrid", input.k, input.filter);
  const relevant = hits.filter((h) => h.similarity !== null && h.similarity >= input.minSimilarity);
  const sources: Citation[] = relevant.map((h, i) => ({ ...h, n: i + 1 }));
  if (sources.length === 0) {
    return {
      action: "ask" as const,
      answer: DONT_KNOW,
      grounded: false,
      model: null,
      sources: [],
      citations: [],
    };
  }
  const result = await ctx.llm.chat(buildMessages(input.question, sources), {
    model: input.model,
    signal: ctx.signal,
    temperature: 0,
  });
  const cited = citedNumbers(result.content, sources.length);
  return {
    action: "ask" as const,
    answer: result.content,
    grounded: true,
    model: result.model,
    sources,
    // the sources the answer actually cites, in citation order: [n] → chunk, document, offsets
    citations: cited.map((n) => sources[n - 1]!),
  };
}
