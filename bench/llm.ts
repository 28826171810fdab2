import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createEmbeddedLLM } from "../runtime/llm/embedded.ts";

/**
 * LLM benchmark, provider side: time to first token, total time and tokens/s of the
 * embedded model (1 thread) called directly, median over several runs of the same prompt.
 * The invoke-path numbers are measured with the same `measureGeneration`, so both sides of
 * the comparison time exactly the same things.
 */
export const LLM_BENCH_PROMPT = "Once upon a time";
export const LLM_BENCH_MAX_TOKENS = 64;

export interface GenerationTiming {
  /** call start → first token delivered */
  ttftMs: number;
  /** call start → call resolved */
  totalMs: number;
  tokens: number;
  /** tokens after the first, over the time between the first and the last */
  decodeTokensPerS: number;
}

/** Times one streaming call; `run` must pass `onToken` through to the model. */
export async function measureGeneration(
  run: (onToken: (t: string) => void) => Promise<unknown>,
): Promise<GenerationTiming> {
  const start = performance.now();
  let first = 0;
  let last = 0;
  let tokens = 0;
  await run(() => {
    last = performance.now();
    if (tokens++ === 0) first = last;
  });
  const totalMs = performance.now() - start;
  if (tokens === 0) throw new Error("the model produced no tokens; nothing to time");
  return {
    ttftMs: first - start,
    totalMs,
    tokens,
    decodeTokensPerS: tokens > 1 ? ((tokens - 1) * 1000) / (last - first) : 0,
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export function summarize(runs: GenerationTiming[]) {
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    ttft_ms_median: round(median(runs.map((r) => r.ttftMs))),
    total_ms_median: round(median(runs.map((r) => r.totalMs))),
    tokens_median: median(runs.map((r) => r.tokens)),
    decode_tokens_per_s_median: Math.round(median(runs.map((r) => r.decodeTokensPerS))),
    tokens_per_s_median: Math.round(median(runs.map((r) => (r.tokens * 1000) / r.totalMs))),
  };
}

export function benchModelPath(): string {
  const path =
    process.env.SUTAZAI_TEST_MODEL ??
    fileURLToPath(new URL("../../shared/models/stories260K.gguf", import.meta.url));
  if (!existsSync(path))
    throw new Error(
      `The LLM benchmark needs the model at ${path} (see ../shared/models/README.md) or SUTAZAI_TEST_MODEL.`,
    );
  return path;
}

export async function runLlmBench(opts: { repetitions?: number } = {}): Promise<Record<string, unknown>> {
  const repetitions = opts.repetitions ?? 9;
  const llm = createEmbeddedLLM({ modelPath: benchModelPath(), threads: 1 });
  try {
    const loadStart = performance.now();
    await llm.ping(); // loads node-llama-cpp and the model: not part of any generation's time
    const loadMs = performance.now() - loadStart;
    const call = (onToken: (t: string) => void) =>
      llm.generate(LLM_BENCH_PROMPT, { maxTokens: LLM_BENCH_MAX_TOKENS, temperature: 0, onToken });
    await measureGeneration(call); // warm-up: first evaluation allocates buffers
    const runs: GenerationTiming[] = [];
    for (let i = 0; i < repetitions; i++) runs.push(await measureGeneration(call));
    return {
      bench: "llm",
      provider: "embedded",
      model: "stories260K",
      threads: 1,
      prompt: LLM_BENCH_PROMPT,
      max_tokens: LLM_BENCH_MAX_TOKENS,
      repetitions,
      load_ms: Math.round(loadMs),
      direct: summarize(runs),
    };
  } finally {
    await llm.close();
  }
}
