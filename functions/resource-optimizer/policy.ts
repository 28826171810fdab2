import type { FunctionMetrics, ModelMemory, NodeMetrics } from "./metrics.ts";

/**
 * The optimizer's decisions: a pure, deterministic function of the measurements. Every
 * recommendation carries the numbers it was made from and a `reason` that quotes them, so
 * an operator can check the arithmetic. (The LLM may explain these afterwards; it never
 * makes or changes one.)
 */
export const THRESHOLDS = {
  /** 1-minute load per core at or above which the node counts as busy / overloaded */
  loadHigh: 1.0,
  loadOverloaded: 1.5,
  /** free memory share below which memory counts as tight */
  memoryTightRatio: 0.15,
  /** p95 latency an LLM-heavy / other function should stay under */
  p95TargetLlmMs: 30_000,
  p95TargetMs: 2_000,
  /** finished invocations needed before p95 is trusted */
  minSamples: 20,
  /** a model to load must fit in this share of free memory */
  loadFitRatio: 0.8,
} as const;

type Numbers = Record<string, number | string | boolean | null>;

export interface ConcurrencyRecommendation {
  function: string;
  current: number | null;
  recommended: number;
  change: "set" | "lower" | "raise" | "keep";
  reason: string;
  numbers: Numbers;
}

export interface ModelRecommendation {
  function: string;
  /** null: keep the node's default model */
  model: string | null;
  reason: string;
  numbers: Numbers;
}

export interface PlacementRecommendation {
  /** where LLM-heavy invocations should run */
  llmWork: "local" | "server";
  reason: string;
  numbers: Numbers;
}

export interface Recommendations {
  concurrency: ConcurrencyRecommendation[];
  models: ModelRecommendation[];
  placement: PlacementRecommendation;
}

export function recommend(m: NodeMetrics, t: typeof THRESHOLDS = THRESHOLDS): Recommendations {
  return {
    concurrency: m.functions.map((f) => concurrencyFor(f, m, t)),
    models: m.functions.filter((f) => f.llmHeavy).map((f) => modelFor(f, m, t)),
    placement: placementOf(m, t),
  };
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
const memoryTight = (m: NodeMetrics, t: typeof THRESHOLDS) => m.memory.freeRatio < t.memoryTightRatio;
const p95Over = (f: FunctionMetrics, t: typeof THRESHOLDS) =>
  f.samples >= t.minSamples && f.p95Ms !== null && f.p95Ms > (f.llmHeavy ? t.p95TargetLlmMs : t.p95TargetMs);

/**
 * Rule: start from a base by kind of work — 1 for LLM-heavy work on the embedded provider
 * (one model context serves one call at a time; more only wait in memory), half the cores
 * for LLM-heavy work on Ollama, 4 per core for the rest (mostly waiting on I/O). Scale by
 * load: ×0.5 when overloaded, ×0.75 when busy, and ×0.75 more when the function's p95 is
 * over its target while busy (latency is then queueing, not the work). Tight memory caps
 * LLM-heavy work at 1. Never below 1.
 */
function concurrencyFor(f: FunctionMetrics, m: NodeMetrics, t: typeof THRESHOLDS): ConcurrencyRecommendation {
  const cores = Math.max(1, m.cpu.cores);
  const load = m.cpu.loadPerCore;
  const base = f.llmHeavy
    ? m.llm.provider === "embedded"
      ? 1
      : Math.max(1, Math.floor(cores / 2))
    : cores * 4;
  const why: string[] = [
    `base ${base} for ${f.llmHeavy ? `LLM-heavy work on ${m.llm.provider}` : "other work"} on ${cores} cores`,
  ];
  let factor = 1;
  if (load >= t.loadOverloaded) {
    factor = 0.5;
    why.push(`load ${round2(load)} per core ≥ ${t.loadOverloaded} (overloaded): ×0.5`);
  } else if (load >= t.loadHigh) {
    factor = 0.75;
    why.push(`load ${round2(load)} per core ≥ ${t.loadHigh} (busy): ×0.75`);
  }
  if (load >= t.loadHigh && p95Over(f, t)) {
    factor *= 0.75;
    why.push(
      `p95 ${f.p95Ms} ms over the ${f.llmHeavy ? t.p95TargetLlmMs : t.p95TargetMs} ms target while busy: ×0.75`,
    );
  }
  let recommended = Math.max(1, Math.floor(base * factor));
  if (f.llmHeavy && memoryTight(m, t) && recommended > 1) {
    recommended = 1;
    why.push(
      `memory tight (${Math.round(m.memory.freeRatio * 100)}% free < ${t.memoryTightRatio * 100}%): capped at 1`,
    );
  }
  const current = f.limit ?? null;
  const change =
    current === null ? "set" : recommended < current ? "lower" : recommended > current ? "raise" : "keep";
  return {
    function: f.name,
    current,
    recommended,
    change,
    reason: `${why.join("; ")} → ${recommended}`,
    numbers: {
      cores,
      loadPerCore: round2(load),
      freeRatio: round2(m.memory.freeRatio),
      base,
      factor: round2(factor),
      queued: f.queued,
      running: f.running,
      samples: f.samples,
      p50Ms: f.p50Ms,
      p95Ms: f.p95Ms,
    },
  };
}

const bySize = (a: ModelMemory, b: ModelMemory) => a.sizeBytes - b.sizeBytes || a.name.localeCompare(b.name);

/**
 * Rule: with tight memory, the smallest model already loaded (nothing more has to fit);
 * with none loaded, the smallest installed one that fits in 80% of free memory. With
 * memory to spare, the largest loaded model (no load delay, the best of what is in memory);
 * none loaded → keep the default. Without a reachable provider there is nothing to choose.
 */
function modelFor(f: FunctionMetrics, m: NodeMetrics, t: typeof THRESHOLDS): ModelRecommendation {
  const numbers: Numbers = {
    freeMiB: mib(m.memory.freeBytes),
    freeRatio: round2(m.memory.freeRatio),
    loadedModels: m.llm.loaded.length,
  };
  const pick = (model: string | null, reason: string, extra: Numbers = {}) => ({
    function: f.name,
    model,
    reason,
    numbers: { ...numbers, ...extra },
  });
  if (!m.llm.available)
    return pick(null, `models unavailable (${m.llm.error ?? "no answer"}): keep the default`);
  const loaded = [...m.llm.loaded].sort(bySize);
  const free = `${Math.round(m.memory.freeRatio * 100)}% free`;
  if (memoryTight(m, t)) {
    if (loaded.length > 0) {
      const small = loaded[0]!;
      return pick(
        small.name,
        `memory tight (${free} < ${t.memoryTightRatio * 100}%): the smallest loaded model (${mib(small.sizeBytes)} MiB) needs nothing more loaded`,
        { modelMiB: mib(small.sizeBytes) },
      );
    }
    const room = m.memory.freeBytes * t.loadFitRatio;
    const fits = [...m.llm.installed].sort(bySize).find((x) => x.sizeBytes > 0 && x.sizeBytes <= room);
    if (fits)
      return pick(
        fits.name,
        `memory tight and no model loaded: the smallest installed model (${mib(fits.sizeBytes)} MiB) fits in ${t.loadFitRatio * 100}% of free memory`,
        { modelMiB: mib(fits.sizeBytes) },
      );
    return pick(
      null,
      `memory tight and no installed model fits in ${mib(room)} MiB: keep the default, or run this work on the server`,
    );
  }
  if (loaded.length > 0) {
    const large = loaded[loaded.length - 1]!;
    return pick(
      large.name,
      `memory to spare (${free}): the largest loaded model (${mib(large.sizeBytes)} MiB) answers without a load delay`,
      { modelMiB: mib(large.sizeBytes) },
    );
  }
  return pick(null, `memory to spare (${free}) and no model loaded: keep the default`);
}

/**
 * Rule: a server runs its own work. An offline edge runs locally (forwarded work would only
 * wait). An online edge sends LLM-heavy work to the server when it is busy, memory is tight,
 * its LLM is unavailable, or an LLM-heavy function's p95 is over target; else keeps it local
 * (no network hop, the data stays on the box).
 */
function placementOf(m: NodeMetrics, t: typeof THRESHOLDS): PlacementRecommendation {
  const slow = m.functions.filter((f) => f.llmHeavy && p95Over(f, t)).map((f) => f.name);
  const numbers: Numbers = {
    role: m.node.role,
    online: m.node.online,
    loadPerCore: round2(m.cpu.loadPerCore),
    freeRatio: round2(m.memory.freeRatio),
    llmAvailable: m.llm.available,
    slowLlmFunctions: slow.length,
  };
  if (m.node.role === "server") return { llmWork: "local", reason: "this node is the server", numbers };
  if (!m.node.online)
    return {
      llmWork: "local",
      reason: "the server is unreachable: forwarded work would only wait in the queue",
      numbers,
    };
  const pressures: string[] = [];
  if (m.cpu.loadPerCore >= t.loadHigh)
    pressures.push(`load ${round2(m.cpu.loadPerCore)} per core ≥ ${t.loadHigh}`);
  if (memoryTight(m, t)) pressures.push(`memory tight (${Math.round(m.memory.freeRatio * 100)}% free)`);
  if (!m.llm.available) pressures.push("the local LLM is unavailable");
  if (slow.length > 0) pressures.push(`p95 over target for ${slow.join(", ")}`);
  if (pressures.length > 0)
    return { llmWork: "server", reason: `server reachable and ${pressures.join("; ")}`, numbers };
  return {
    llmWork: "local",
    reason: "local capacity suffices: no network hop, the data stays on the box",
    numbers,
  };
}
