import { availableParallelism, freemem, loadavg, totalmem } from "node:os";
import { sql } from "drizzle-orm";
import type { Db } from "../../runtime/db.ts";
import type { FunctionContext } from "../../runtime/function.ts";
import type { LLM } from "../../runtime/llm/types.ts";
import type { FunctionMetrics, ModelMemory, NodeMetrics } from "./metrics.ts";

/** Finished invocations read per measurement at most: the percentiles stay cheap on a busy node. */
const MAX_SAMPLES = 50_000;
/** How long the provider may take to say what it has loaded before it counts as unavailable. */
const LLM_PROBE_MS = 3_000;

/** Measures the node now: OS, invocations in the window, the LLM provider's models. */
export async function measure(
  ctx: FunctionContext,
  windowMs: number,
  llmHeavy: ReadonlySet<string>,
): Promise<NodeMetrics> {
  const now = Date.now();
  const cores = availableParallelism();
  const [load1, load5, load15] = loadavg() as [number, number, number];
  const totalBytes = totalmem();
  const freeBytes = freemem();
  const [functions, llm] = await Promise.all([
    functionMetrics(ctx, now - windowMs, llmHeavy),
    llmMetrics(ctx.llm),
  ]);
  return {
    measuredAt: new Date(now).toISOString(),
    windowMs,
    node: { role: ctx.node.role, online: ctx.node.online },
    cpu: { cores, load1, load5, load15, loadPerCore: load1 / cores },
    memory: {
      totalBytes,
      freeBytes,
      freeRatio: freeBytes / totalBytes,
      processRssBytes: process.memoryUsage.rss(),
    },
    llm,
    functions,
  };
}

async function functionMetrics(
  ctx: FunctionContext,
  since: number,
  llmHeavy: ReadonlySet<string>,
): Promise<FunctionMetrics[]> {
  const [depth, latencies] = await Promise.all([queueDepth(ctx.db), recentDurations(ctx.db, since)]);
  const live = ctx.limits?.snapshot() ?? {};
  const names = new Set([...depth.keys(), ...latencies.keys(), ...Object.keys(live), ...llmHeavy]);
  return [...names].sort().map((name) => {
    const d = depth.get(name);
    const l = latencies.get(name);
    const durations = l?.durations ?? [];
    return {
      name,
      queued: d?.queued ?? 0,
      // A synchronous invocation has no row until it ends: the live count sees it, the table does not.
      running: Math.max(d?.running ?? 0, live[name]?.running ?? 0),
      samples: durations.length,
      failed: l?.failed ?? 0,
      p50Ms: percentile(durations, 0.5),
      p95Ms: percentile(durations, 0.95),
      ...(live[name]?.limit !== undefined ? { limit: live[name].limit } : {}),
      llmHeavy: llmHeavy.has(name),
    };
  });
}

async function queueDepth(db: Db): Promise<Map<string, { queued: number; running: number }>> {
  const rows = await db.all<{ function: string; status: string; n: number }>(
    sql`SELECT function, status, count(*) AS n FROM invocations WHERE status IN ('queued', 'running') GROUP BY function, status`,
  );
  const out = new Map<string, { queued: number; running: number }>();
  for (const r of rows) {
    const entry = out.get(r.function) ?? { queued: 0, running: 0 };
    entry[r.status === "queued" ? "queued" : "running"] = Number(r.n);
    out.set(r.function, entry);
  }
  return out;
}

/**
 * Durations of invocations created since `since`, per function, ascending. Ids are UUIDv7,
 * whose text sorts by creation time, so the window is a range scan of the primary key
 * instead of a full scan of a table that only grows.
 */
async function recentDurations(
  db: Db,
  since: number,
): Promise<Map<string, { durations: number[]; failed: number }>> {
  const rows = await db.all<{ function: string; status: string; d: number }>(
    sql`SELECT function, status, duration_ms AS d FROM invocations
        WHERE id >= ${uuidv7Floor(since)} AND duration_ms IS NOT NULL AND status IN ('succeeded', 'failed', 'dead')
        ORDER BY id DESC LIMIT ${MAX_SAMPLES}`,
  );
  const out = new Map<string, { durations: number[]; failed: number }>();
  for (const r of rows) {
    const entry = out.get(r.function) ?? { durations: [], failed: 0 };
    entry.durations.push(Number(r.d));
    if (r.status !== "succeeded") entry.failed++;
    out.set(r.function, entry);
  }
  for (const entry of out.values()) entry.durations.sort((a, b) => a - b);
  return out;
}

/** The smallest UUIDv7 of millisecond `ms`, as text. */
export function uuidv7Floor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
}

/** Nearest-rank percentile of ascending values; null without any. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

async function llmMetrics(llm: LLM): Promise<NodeMetrics["llm"]> {
  const base = { provider: llm.provider, loaded: [] as ModelMemory[], installed: [] as ModelMemory[] };
  if (llm.provider === "none") return { ...base, available: false, error: "no LLM provider is configured" };
  try {
    const [loaded, installed] = await withTimeout(Promise.all([llm.ps(), llm.listModels()]), LLM_PROBE_MS);
    return {
      ...base,
      available: true,
      loaded: loaded.map((m) => ({ name: m.name, sizeBytes: m.size })),
      installed: installed.map((m) => ({ name: m.name, sizeBytes: m.size ?? 0 })),
    };
  } catch (err) {
    return { ...base, available: false, error: (err as Error).message };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the LLM provider did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
