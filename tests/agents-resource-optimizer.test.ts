import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { percentile, uuidv7Floor } from "../functions/resource-optimizer/measure.ts";
import type { FunctionMetrics, NodeMetrics } from "../functions/resource-optimizer/metrics.ts";
import { recommend } from "../functions/resource-optimizer/policy.ts";
import { uuidv7 } from "../runtime/ids.ts";
import { type AgentsHarness, type Answer, MODEL, startAgentsHarness } from "./support/agents-node.ts";
import { jsonPost, startTestNode } from "./support/test-node.ts";

const GiB = 2 ** 30;

/** Synthetic measurements: a calm 4-core edge, online, Ollama with two models loaded. */
function metrics(over: {
  load?: number;
  freeRatio?: number;
  role?: "edge" | "server";
  online?: boolean;
  provider?: string;
  llm?: Partial<NodeMetrics["llm"]>;
  functions?: Array<Partial<FunctionMetrics> & { name: string }>;
}): NodeMetrics {
  const cores = 4;
  const load = over.load ?? 0.2;
  const freeRatio = over.freeRatio ?? 0.5;
  const fn = (f: Partial<FunctionMetrics> & { name: string }): FunctionMetrics => ({
    queued: 0,
    running: 0,
    samples: 50,
    failed: 0,
    p50Ms: 100,
    p95Ms: 400,
    llmHeavy: false,
    ...f,
  });
  return {
    measuredAt: "2025-01-01T00:00:00.000Z",
    windowMs: 900_000,
    node: { role: over.role ?? "edge", online: over.online ?? true },
    cpu: { cores, load1: load * cores, load5: load * cores, load15: load * cores, loadPerCore: load },
    memory: { totalBytes: 8 * GiB, freeBytes: freeRatio * 8 * GiB, freeRatio, processRssBytes: 0.2 * GiB },
    llm: {
      provider: over.provider ?? "ollama",
      available: true,
      loaded: [
        { name: "llama3.1:8b", sizeBytes: 5 * GiB },
        { name: "llama3.2:1b", sizeBytes: 1.3 * GiB },
      ],
      installed: [
        { name: "qwen3:0.6b", sizeBytes: 0.5 * GiB },
        { name: "llama3.2:1b", sizeBytes: 1.3 * GiB },
      ],
      ...over.llm,
    },
    functions: (
      over.functions ?? [
        { name: "code-assistant", llmHeavy: true, p50Ms: 4000, p95Ms: 9000 },
        { name: "echo" },
      ]
    ).map(fn),
  };
}
const limitOf = (m: NodeMetrics, name: string) => recommend(m).concurrency.find((c) => c.function === name)!;

describe("resource-optimizer policy (pure, synthetic metrics)", () => {
  it("is deterministic and shows its numbers: calm node → half the cores for LLM work, 4 per core for the rest", () => {
    const m = metrics({});
    expect(recommend(m)).toEqual(recommend(structuredClone(m)));
    expect(limitOf(m, "code-assistant")).toMatchObject({
      recommended: 2,
      change: "set",
      numbers: { cores: 4, loadPerCore: 0.2, base: 2 },
    });
    expect(limitOf(m, "echo")).toMatchObject({ recommended: 16, reason: expect.stringContaining("base 16") });
  });

  it("high load lowers the limits: ×0.75 when busy, ×0.5 when overloaded, ×0.75 more for a slow p95", () => {
    const busy = metrics({ load: 1.2, functions: [{ name: "echo", limit: 16 }] });
    expect(limitOf(busy, "echo")).toMatchObject({ current: 16, recommended: 12, change: "lower" });
    expect(limitOf(busy, "echo").reason).toContain("load 1.2 per core ≥ 1 (busy)");
    const overloaded = metrics({ load: 1.8, functions: [{ name: "echo", limit: 16 }] });
    expect(limitOf(overloaded, "echo")).toMatchObject({ recommended: 8, change: "lower" });
    const slow = metrics({ load: 1.8, functions: [{ name: "echo", p95Ms: 5000, samples: 40 }] });
    expect(limitOf(slow, "echo")).toMatchObject({ recommended: 6, numbers: { p95Ms: 5000 } });
    const fewSamples = metrics({ load: 1.8, functions: [{ name: "echo", p95Ms: 5000, samples: 3 }] });
    expect(limitOf(fewSamples, "echo").recommended).toBe(8);
    const calm = metrics({ functions: [{ name: "echo", limit: 16 }] });
    expect(limitOf(calm, "echo").change).toBe("keep");
  });

  it("LLM work on the embedded provider is capped at 1; tight memory caps any LLM work at 1", () => {
    expect(limitOf(metrics({ provider: "embedded" }), "code-assistant").recommended).toBe(1);
    const tight = limitOf(metrics({ freeRatio: 0.08 }), "code-assistant");
    expect(tight.recommended).toBe(1);
    expect(tight.reason).toContain("memory tight (8% free < 15%)");
  });

  it("memory tight → the smallest loaded model; with none loaded, the smallest installed one that fits", () => {
    expect(recommend(metrics({ freeRatio: 0.1 })).models[0]).toMatchObject({
      function: "code-assistant",
      model: "llama3.2:1b",
      numbers: { modelMiB: 1331 },
    });
    const noneLoaded = recommend(metrics({ freeRatio: 0.1, llm: { loaded: [] } })).models[0]!;
    expect(noneLoaded.model).toBe("qwen3:0.6b");
    const nothingFits = recommend(
      metrics({
        freeRatio: 0.05,
        llm: { loaded: [], installed: [{ name: "big:70b", sizeBytes: 40 * GiB }] },
      }),
    );
    expect(nothingFits.models[0]!.model).toBeNull();
  });

  it("memory to spare → the largest loaded model; provider unreachable → keep the default", () => {
    expect(recommend(metrics({})).models[0]!.model).toBe("llama3.1:8b");
    const down = recommend(metrics({ llm: { available: false, error: "connect ECONNREFUSED", loaded: [] } }));
    expect(down.models[0]).toMatchObject({ model: null, reason: expect.stringContaining("ECONNREFUSED") });
  });

  it("placement: online edge under pressure → server; offline edge → local; calm edge → local; server → local", () => {
    expect(recommend(metrics({ load: 1.4 })).placement).toMatchObject({
      llmWork: "server",
      numbers: { online: true, loadPerCore: 1.4 },
    });
    expect(recommend(metrics({ freeRatio: 0.05 })).placement.llmWork).toBe("server");
    expect(recommend(metrics({ llm: { available: false } })).placement.llmWork).toBe("server");
    const slowLlm = metrics({
      functions: [{ name: "code-assistant", llmHeavy: true, p95Ms: 60_000, samples: 30 }],
    });
    expect(recommend(slowLlm).placement).toMatchObject({
      llmWork: "server",
      reason: expect.stringContaining("code-assistant"),
    });
    expect(recommend(metrics({ load: 1.4, online: false })).placement).toMatchObject({
      llmWork: "local",
      reason: expect.stringContaining("unreachable"),
    });
    expect(recommend(metrics({})).placement.llmWork).toBe("local");
    expect(recommend(metrics({ load: 3, role: "server" })).placement.llmWork).toBe("local");
  });

  it("percentiles are nearest-rank; the UUIDv7 floor sorts before every id of that millisecond", () => {
    expect(percentile([], 0.5)).toBeNull();
    expect(percentile([10, 20, 30, 40], 0.5)).toBe(20);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 100], 0.95)).toBe(
      19,
    );
    const now = Date.now();
    expect(uuidv7Floor(now) <= uuidv7(now + 1)).toBe(true);
    expect(uuidv7Floor(now + 10) > uuidv7()).toBe(true);
  });
});

describe("resource-optimizer on a node (fake Ollama)", () => {
  let h: AgentsHarness;
  beforeAll(async () => {
    h = await startAgentsHarness();
    for (let i = 0; i < 5; i++) await h.invoke("echo", { message: `m${i}` });
    await h.invoke("code-assistant", { action: "explain", code: "let x = 1;" }); // loads MODEL in the fake
    await h.node.platform.invocations.flush();
  });
  afterAll(async () => {
    await h.dispose();
  });

  it("measures latency, queue depth and loaded models, and recommends with reasons", async () => {
    const res = await h.invoke("resource-optimizer", {});
    expect(res.status).toBe(200);
    const { metrics: m, recommendations: r } = res.body.output;
    const echo = m.functions.find((f: { name: string }) => f.name === "echo");
    expect(echo).toMatchObject({
      samples: 5,
      queued: 0,
      llmHeavy: false,
      p50Ms: expect.any(Number),
      p95Ms: expect.any(Number),
    });
    expect(m.llm).toMatchObject({
      provider: "ollama",
      available: true,
      loaded: [expect.objectContaining({ name: MODEL })],
    });
    expect(m.cpu.cores).toBeGreaterThan(0);
    expect(r.placement).toMatchObject({
      llmWork: expect.stringMatching(/local|server/),
      reason: expect.any(String),
    });
    expect(r.concurrency.find((c: { function: string }) => c.function === "echo")).toMatchObject({
      recommended: expect.any(Number),
      reason: expect.any(String),
    });
    expect(res.body.output.applied).toBeUndefined();
    expect(res.body.output.explanation).toBeUndefined();
  });

  it("explain adds the model's words; an LLM failure leaves the recommendations intact", async () => {
    h.fake.script(MODEL, { content: "Your node is calm." });
    const ok = await h.invoke("resource-optimizer", { explain: true });
    expect(ok.body.output.explanation).toBe("Your node is calm.");
    h.fake.script(MODEL, { error: { status: 500, message: "model crashed" } });
    const failed = await h.invoke("resource-optimizer", { explain: true });
    expect(failed.status).toBe(200);
    expect(failed.body.output.recommendations.concurrency.length).toBeGreaterThan(0);
    expect(failed.body.output.explanationUnavailable).toMatch(/model crashed/);
  });

  it("apply sets the limits the runtime enforces (admin only); operators may look, developers may not", async () => {
    const res = await h.invoke("resource-optimizer", { apply: true });
    expect(res.status).toBe(200);
    const applied = res.body.output.applied as Array<{ function: string; to: number }>;
    expect(applied.length).toBeGreaterThan(0);
    for (const a of applied) expect(h.node.platform.limits.get(a.function)).toBe(a.to);
    const again = await h.invoke("resource-optimizer", {});
    expect(
      again.body.output.recommendations.concurrency.find(
        (c: { function: string }) => c.function === applied[0]!.function,
      ).current,
    ).toBe(applied[0]!.to);

    const operator = await h.key("operator");
    expect((await h.invoke("resource-optimizer", {}, operator)).status).toBe(200);
    const refused = await h.invoke("resource-optimizer", { apply: true }, operator);
    expect(refused).toMatchObject({ status: 403, body: { code: "FORBIDDEN" } });
    expect((await h.invoke("resource-optimizer", {}, await h.key("developer"))).status).toBe(403);
  });

  it("a node without an LLM still gets recommendations: models unavailable, no explanation", async () => {
    const bare = await startTestNode();
    try {
      const res = await bare.request("/v1/functions/resource-optimizer/invoke", jsonPost({ explain: true }));
      expect(res.status).toBe(200);
      const out = ((await res.json()) as Answer).output;
      expect(out.metrics.llm).toMatchObject({ provider: "none", available: false });
      expect(out.recommendations.models[0]).toMatchObject({ model: null });
      expect(out.explanationUnavailable).toMatch(/no LLM provider/);
    } finally {
      await bare.dispose();
    }
  });
});
