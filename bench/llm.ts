import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import { loadConfig } from "../runtime/config.ts";
import { type AnyFunction, defineFunction } from "../runtime/function.ts";
import { createEmbeddedLLM } from "../runtime/llm/embedded.ts";
import type { LLM } from "../runtime/llm/types.ts";
import { silentLogger } from "../runtime/log.ts";
import { createNode } from "../runtime/node.ts";
import { createLocalQueue } from "../runtime/queue/local.ts";

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
    const viaInvoke = await measureThroughInvoke(llm, repetitions);
    const viaBareSse = await measureBareSse(llm, repetitions);
    const d = summarize(runs);
    const i = summarize(viaInvoke);
    return {
      bench: "llm",
      provider: "embedded",
      model: "stories260K",
      threads: 1,
      prompt: LLM_BENCH_PROMPT,
      max_tokens: LLM_BENCH_MAX_TOKENS,
      repetitions,
      load_ms: Math.round(loadMs),
      direct: d,
      invoke: i,
      added_ttft_ms: Math.round((i.ttft_ms_median - d.ttft_ms_median) * 100) / 100,
      added_total_ms: Math.round((i.total_ms_median - d.total_ms_median) * 100) / 100,
      // HTTP + SSE + fetch alone (a bare Hono route streaming the same call): what any HTTP
      // streaming costs here, so the invoke path's own share is added_ttft_ms minus this.
      bare_sse: summarize(viaBareSse),
    };
  } finally {
    await llm.close();
  }
}

/**
 * The same generation through the whole invoke path: an edge node's HTTP API with an API
 * key, `Accept: text/event-stream`, a function that calls ctx.llm.generate, the invocation
 * row and audit entry. TTFT is when the first SSE `token` event reaches the client.
 */
async function measureThroughInvoke(llm: LLM, repetitions: number): Promise<GenerationTiming[]> {
  const dataDir = mkdtempSync(join(tmpdir(), "sutazai-bench-llm-"));
  const storyteller = defineFunction({
    name: "storyteller",
    description: "Continues a prompt",
    input: z.object({ prompt: z.string() }),
    output: z.object({ text: z.string() }),
    handler: async ({ prompt }, ctx) => ({
      text: (await ctx.llm.generate(prompt, { maxTokens: LLM_BENCH_MAX_TOKENS, temperature: 0 })).text,
    }),
  });
  const config = loadConfig("edge", { "data-dir": dataDir, "log-level": "warn" }, {});
  const node = await createNode({
    config,
    llm,
    functions: [storyteller as AnyFunction],
    queue: (database) => createLocalQueue(database),
    log: silentLogger,
  });
  const key = readFileSync(join(dataDir, "admin.key"), "utf8").trim();
  const port = await new Promise<number>((resolve) => {
    const server = serve({ fetch: node.app.fetch, port: 0, hostname: "127.0.0.1" }, (info) =>
      resolve(info.port),
    );
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
  });
  const call = (onToken: (t: string) => void) =>
    readSse(
      `http://127.0.0.1:${port}/v1/functions/storyteller/invoke`,
      { authorization: `Bearer ${key}` },
      onToken,
    );
  try {
    await measureGeneration(call); // warm-up
    const runs: GenerationTiming[] = [];
    for (let r = 0; r < repetitions; r++) runs.push(await measureGeneration(call));
    return runs;
  } finally {
    for (const close of closers.splice(0)) await close();
    await node.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
const closers: Array<() => Promise<void>> = [];

/** The baseline for the HTTP part: a bare Hono route streaming the provider's tokens as SSE. */
async function measureBareSse(llm: LLM, repetitions: number): Promise<GenerationTiming[]> {
  const app = new Hono();
  app.post("/sse", (c) =>
    streamSSE(c, async (sse) => {
      const pending: Promise<void>[] = [];
      await llm.generate(LLM_BENCH_PROMPT, {
        maxTokens: LLM_BENCH_MAX_TOKENS,
        temperature: 0,
        onToken: (t) => void pending.push(sse.writeSSE({ event: "token", data: JSON.stringify(t) })),
      });
      await Promise.all(pending);
      await sse.writeSSE({ event: "result", data: "{}" });
    }),
  );
  const port = await new Promise<number>((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => resolve(info.port));
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
  });
  const call = (onToken: (t: string) => void) => readSse(`http://127.0.0.1:${port}/sse`, {}, onToken);
  try {
    await measureGeneration(call);
    const runs: GenerationTiming[] = [];
    for (let r = 0; r < repetitions; r++) runs.push(await measureGeneration(call));
    return runs;
  } finally {
    for (const close of closers.splice(0)) await close();
  }
}

/** POSTs and calls onToken for each SSE `token` event as it arrives. */
async function readSse(
  url: string,
  headers: Record<string, string>,
  onToken: (t: string) => void,
): Promise<void> {
  const res = await fetch(url, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({ prompt: LLM_BENCH_PROMPT }),
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffered += decoder.decode(value, { stream: true });
    let cut = buffered.indexOf("\n\n");
    while (cut >= 0) {
      const event = buffered.slice(0, cut);
      buffered = buffered.slice(cut + 2);
      if (event.startsWith("event: token")) onToken(event);
      if (event.startsWith("event: error")) throw new Error(event);
      cut = buffered.indexOf("\n\n");
    }
  }
}
