import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { telemetry, telemetryRoutes } from "../functions/telemetry/index.ts";
import type { TelemetryOutput } from "../functions/telemetry/schema.ts";
import { judge } from "../functions/telemetry/stats.ts";
import { type Database, openDatabase } from "../runtime/db.ts";
import { AppError } from "../runtime/errors.ts";
import type { FunctionContext, FunctionEnv } from "../runtime/function.ts";
import { applyMigrations } from "../runtime/migrate.ts";
import { makeContext } from "./support/function-context.ts";
import { jsonPost, startTestNode, type TestNode } from "./support/test-node.ts";

type Ingest = Extract<TelemetryOutput, { mode: "ingest" }>;
type Query = Extract<TelemetryOutput, { mode: "query" }>;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

// A temp file rather than :memory: so the test sees what a gateway does: WAL, and reads on
// other pooled connections than the one that committed the batch.
let dir: string;
let database: Database;
let ctx: FunctionContext;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "sutazai-telemetry-"));
  database = await openDatabase(join(dir, "node.db"));
  await applyMigrations(database);
  ctx = makeContext(database.db);
});
afterEach(() => {
  database.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Validates like the platform does, then runs the handler. */
async function call(input: unknown, context: FunctionContext = ctx): Promise<TelemetryOutput> {
  const output = await telemetry.handler(telemetry.input.parse(input), context);
  return telemetry.output.parse(output) as TelemetryOutput;
}
const ingest = async (input: unknown) => (await call(input)) as Ingest;
const query = async (input: unknown) => (await call(input)) as Query;

/** Readings of one series, one per minute, the last one `endAgoMs` before now. */
function series(values: number[], opts: { device?: string; metric?: string; endAgoMs?: number } = {}) {
  const end = Date.now() - (opts.endAgoMs ?? MINUTE);
  return values.map((value, i) => ({
    device: opts.device ?? "pump-1",
    metric: opts.metric ?? "temp_c",
    value,
    ts: end - (values.length - 1 - i) * MINUTE,
  }));
}

/** Reference statistics, the textbook way. */
function reference(values: number[]) {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const ss = values.reduce((a, v) => a + (v - mean) ** 2, 0);
  return {
    n,
    mean,
    sampleStddev: Math.sqrt(ss / (n - 1)),
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

const NORMAL = [20.1, 19.8, 20.3, 20.0, 19.9, 20.2, 20.0, 19.7, 20.4, 20.1, 19.9, 20.0];

describe("telemetry: rolling statistics", () => {
  it("count, mean, min, max and sample stddev match a hand-computed reference", async () => {
    // mean 5, Σ(v-5)² = 32: population stddev 2, sample stddev √(32/7)
    await ingest({ readings: series([2, 4, 4, 4, 5, 5, 7, 9]) });
    const out = await query({ query: { device: "pump-1", metric: "temp_c" } });
    expect(out.series).toHaveLength(1);
    const s = out.series[0]!;
    expect(s).toMatchObject({ device: "pump-1", metric: "temp_c", count: 8, min: 2, max: 9 });
    expect(s.mean).toBeCloseTo(5, 12);
    expect(s.stddev).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(s.until - s.from).toBe(HOUR);
  });

  it("stays accurate for large values with a small spread (no Σv² cancellation)", async () => {
    const values = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8].map((d) => 1e9 + d);
    const ref = reference(values.map((v) => v - 1e9));
    const out = await ingest({ readings: series(values) });
    expect(out.series[0]!.stddev).toBeCloseTo(ref.sampleStddev, 6);
    // the last reading's baseline is the 7 before it
    const last = out.readings[7]!;
    const refBase = reference(values.slice(0, 7).map((v) => v - 1e9));
    expect(last.baseline.stddev).toBeCloseTo(refBase.sampleStddev, 6);
    expect(last.zScore).toBeCloseTo((0.8 - refBase.mean) / refBase.sampleStddev, 4);
  });

  it("the window excludes readings older than windowMs", async () => {
    await ingest({ readings: series([1000, 1000, 1000], { endAgoMs: 2 * HOUR }) });
    await ingest({ readings: series(NORMAL) });
    const ref = reference(NORMAL);
    const hour = (await query({ query: { device: "pump-1", metric: "temp_c" } })).series[0]!;
    expect(hour.count).toBe(NORMAL.length);
    expect(hour.mean).toBeCloseTo(ref.mean, 10);
    expect(hour.max).toBe(ref.max);

    // a wider window reaches the old readings
    const wide = (await query({ query: { device: "pump-1", metric: "temp_c" }, windowMs: 3 * HOUR }))
      .series[0]!;
    expect(wide.count).toBe(NORMAL.length + 3);
    expect(wide.max).toBe(1000);

    // and the baseline of a new reading ignores them too: 20.5 is normal against the last hour
    const out = await ingest({ device: "pump-1", metric: "temp_c", value: 20.5 });
    expect(out.readings[0]!.baseline.count).toBe(NORMAL.length);
    expect(out.readings[0]!.anomaly).toBe(false);
  });

  it("`until` looks at a past window", async () => {
    await ingest({ readings: series([5, 6, 7], { endAgoMs: 3 * HOUR }) });
    await ingest({ readings: series(NORMAL) });
    const until = Date.now() - 2.5 * HOUR;
    const past = (await query({ query: { device: "pump-1", metric: "temp_c", until } })).series[0]!;
    expect(past).toMatchObject({ count: 3, min: 5, max: 7, until, from: until - HOUR });
  });

  it("a device-wide query lists every metric, a quiet one with count 0", async () => {
    await ingest({ readings: [...series([1, 2, 3]), ...series([40, 41], { metric: "rpm" })] });
    await ingest({ readings: series([9], { metric: "pressure", endAgoMs: 5 * HOUR }) });
    const out = await query({ query: { device: "pump-1", recent: 10 } });
    expect(out.series.map((s) => [s.metric, s.count])).toEqual([
      ["pressure", 0],
      ["rpm", 2],
      ["temp_c", 3],
    ]);
    expect(out.series[0]).toMatchObject({ mean: null, min: null, max: null, stddev: null });
    expect(out.readings).toHaveLength(5);
    expect(out.readings.map((r) => r.ts)).toEqual([...out.readings.map((r) => r.ts)].sort((a, b) => b - a));
  });

  it("a query stores nothing and an unknown series answers count 0", async () => {
    const out = await query({ query: { device: "nobody", metric: "nothing", recent: 5 } });
    expect(out.series).toEqual([expect.objectContaining({ count: 0, mean: null, stddev: null })]);
    expect(out.readings).toEqual([]);
    const rows = await database.client.execute("SELECT COUNT(*) AS n FROM telemetry_readings");
    expect(rows.rows[0]!.n).toBe(0);
  });
});

describe("telemetry: anomalies", () => {
  it("flags a clear outlier, scored against its window without itself", async () => {
    await ingest({ readings: series(NORMAL) });
    const ref = reference(NORMAL);
    const out = await ingest({ device: "pump-1", metric: "temp_c", value: 35 });
    const r = out.readings[0]!;
    expect(r.anomaly).toBe(true);
    expect(out.anomalies).toBe(1);
    expect(r.baseline.count).toBe(NORMAL.length);
    expect(r.baseline.mean).toBeCloseTo(ref.mean, 10);
    expect(r.baseline.stddev).toBeCloseTo(ref.sampleStddev, 10);
    expect(r.zScore).toBeCloseTo((35 - ref.mean) / ref.sampleStddev, 8);
  });

  it("does not flag normal values", async () => {
    const out = await ingest({ readings: series([...NORMAL, ...NORMAL]) });
    expect(out.anomalies).toBe(0);
    expect(out.readings.every((r) => !r.anomaly)).toBe(true);
  });

  it("an outlier inside a batch is scored against the readings before it, and does not mask itself", async () => {
    const out = await ingest({ readings: series([...NORMAL, 35, ...NORMAL.slice(0, 3)]) });
    expect(out.readings.filter((r) => r.anomaly).map((r) => r.index)).toEqual([NORMAL.length]);
    // with the outlier inside its own baseline it would score far lower
    const ref = reference(NORMAL);
    expect(out.readings[NORMAL.length]!.zScore).toBeCloseTo((35 - ref.mean) / ref.sampleStddev, 8);
  });

  it("flags nothing below minSamples, and minSamples is configurable", async () => {
    await ingest({ readings: [...series([20, 20.2, 19.8]), ...series([20, 20.2, 19.8], { metric: "rpm" })] });
    const few = await ingest({ device: "pump-1", metric: "temp_c", value: 500 });
    expect(few.readings[0]!.baseline.count).toBe(3);
    expect(few.readings[0]!.zScore).toBeGreaterThan(100); // defined, just not trusted yet
    expect(few.readings[0]!.anomaly).toBe(false);
    expect(few.anomalies).toBe(0);

    const relaxed = await ingest({ device: "pump-1", metric: "rpm", value: 500, minSamples: 3 });
    expect(relaxed.minSamples).toBe(3);
    expect(relaxed.readings[0]).toMatchObject({ baseline: { count: 3 }, anomaly: true });
  });

  it("zThreshold is configurable", async () => {
    await ingest({ readings: [...series(NORMAL), ...series(NORMAL, { metric: "rpm" })] });
    const ref = reference(NORMAL);
    const value = ref.mean + 2.5 * ref.sampleStddev;
    const lenient = await ingest({ device: "pump-1", metric: "temp_c", value });
    expect(lenient.readings[0]).toMatchObject({ anomaly: false });
    expect(lenient.readings[0]!.zScore).toBeCloseTo(2.5, 8);
    const strict = await ingest({ device: "pump-1", metric: "rpm", value, zThreshold: 2 });
    expect(strict.readings[0]!.anomaly).toBe(true);
    expect(strict.zThreshold).toBe(2);
  });

  it("a flat-lined sensor flags any change (zScore null) but not the same value", async () => {
    await ingest({ readings: series(Array(10).fill(21.7)) });
    const same = await ingest({ device: "pump-1", metric: "temp_c", value: 21.7 });
    expect(same.readings[0]).toMatchObject({ zScore: 0, anomaly: false });
    const moved = await ingest({ device: "pump-1", metric: "temp_c", value: 22 });
    expect(moved.readings[0]).toMatchObject({ zScore: null, anomaly: true });
  });

  it("judge: no verdict without a spread, threshold is strict", () => {
    const base = { count: 10, mean: 0, stddev: 1 };
    expect(judge(3, base, { zThreshold: 3, minSamples: 5 })).toEqual({ zScore: 3, anomaly: false });
    expect(judge(-3.01, base, { zThreshold: 3, minSamples: 5 }).anomaly).toBe(true);
    expect(judge(5, { count: 1, mean: 0, stddev: null }, { zThreshold: 3, minSamples: 2 })).toEqual({
      zScore: null,
      anomaly: false,
    });
  });

  it("series are independent: another device's values never enter a baseline", async () => {
    await ingest({
      readings: [
        ...series(NORMAL),
        ...series(
          NORMAL.map((v) => v * 100),
          { device: "pump-2" },
        ),
      ],
    });
    const out = await ingest({ device: "pump-2", metric: "temp_c", value: 2000 });
    expect(out.readings[0]!.anomaly).toBe(false);
    expect(out.readings[0]!.baseline.count).toBe(NORMAL.length);
  });
});

describe("telemetry: input forms", () => {
  it("single form: ts defaults to receipt time; invocation_id stays NULL", async () => {
    const before = Date.now();
    const out = await ingest({ device: "gw/line-1:pump.A_2", metric: "temp_c", value: -4.25 });
    expect(out.stored).toBe(1);
    expect(out.readings).toHaveLength(1);
    const r = out.readings[0]!;
    expect(r).toMatchObject({ index: 0, device: "gw/line-1:pump.A_2", metric: "temp_c", value: -4.25 });
    expect(r.ts).toBeGreaterThanOrEqual(before);
    expect(r.ts).toBe(out.receivedAt);
    const rows = await database.client.execute("SELECT id, ts, invocation_id FROM telemetry_readings");
    expect(rows.rows).toEqual([expect.objectContaining({ id: r.id, ts: r.ts, invocation_id: null })]);
  });

  it("accepts ISO 8601 timestamps with a zone and floors fractional milliseconds", async () => {
    const iso = new Date(Date.now() - HOUR / 2).toISOString().replace("Z", "+00:00");
    const ms = Date.now() - 1000.75;
    const out = await ingest({
      readings: [
        { device: "d", metric: "m", value: 1, ts: iso },
        { device: "d", metric: "m", value: 2, ts: ms },
      ],
    });
    expect(out.readings.map((r) => r.ts)).toEqual([Date.parse(iso), Math.floor(ms)]);
  });

  it("anomaliesOnly answers with the flagged readings only, keeping their batch index", async () => {
    const out = await ingest({ readings: series([...NORMAL, 99, 20]), anomaliesOnly: true });
    expect(out.stored).toBe(NORMAL.length + 2);
    expect(out.readings.map((r) => r.index)).toEqual([NORMAL.length]);
  });

  it("stores a batch of 5,000 readings across several series", async () => {
    const now = Date.now();
    const readings = Array.from({ length: 5_000 }, (_, i) => ({
      device: `dev-${i % 4}`,
      metric: i % 2 ? "temp_c" : "rpm",
      value: 50 + Math.sin(i) * 5,
      ts: now - (5_000 - i) * 100,
    }));
    const out = await ingest({ readings, anomaliesOnly: true });
    expect(out.stored).toBe(5_000);
    expect(out.anomalies).toBe(0);
    const rows = await database.client.execute("SELECT COUNT(*) AS n FROM telemetry_readings");
    expect(rows.rows[0]!.n).toBe(5_000);
    expect(out.series).toHaveLength(4); // dev-0/rpm, dev-1/temp_c, dev-2/rpm, dev-3/temp_c
    expect(out.series.reduce((a, s) => a + s.count, 0)).toBe(5_000);
  });

  it("does not write when the invocation was already aborted", async () => {
    const controller = new AbortController();
    controller.abort(new Error("gone"));
    await expect(
      call({ device: "d", metric: "m", value: 1 }, makeContext(database.db, { signal: controller.signal })),
    ).rejects.toThrow("gone");
    const rows = await database.client.execute("SELECT COUNT(*) AS n FROM telemetry_readings");
    expect(rows.rows[0]!.n).toBe(0);
  });
});

describe("telemetry: validation", () => {
  const issues = (input: unknown) => {
    const parsed = telemetry.input.safeParse(input);
    expect(parsed.success).toBe(false);
    return parsed.error!.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
  };
  const ok = { device: "d", metric: "m", value: 1 };

  it.each([
    ["a missing value", { device: "d", metric: "m" }, "value", /required/],
    ["a string value", { ...ok, value: "1" }, "value", /number/],
    ["NaN", { ...ok, value: Number.NaN }, "value", /./],
    ["Infinity", { ...ok, value: Number.POSITIVE_INFINITY }, "value", /./],
    ["a device with a space", { ...ok, device: "my pump" }, "device", /1-128 characters/],
    ["an empty metric", { ...ok, metric: "" }, "metric", /1-128 characters/],
    ["a 129-character device", { ...ok, device: "x".repeat(129) }, "device", /1-128 characters/],
    ["ts 2 days ahead", { ...ok, ts: Date.now() + 2 * 24 * HOUR }, "ts", /more than 1 day in the future/],
    ["ts in seconds", { ...ok, ts: Math.floor(Date.now() / 1000) }, "ts", /not seconds/],
    ["ts without a zone", { ...ok, ts: "2024-05-01T12:00:00" }, "ts", /time zone/],
    ["ts as prose", { ...ok, ts: "yesterday" }, "ts", /unix milliseconds/],
    ["an unknown key", { ...ok, unit: "C" }, "", /unit/],
    ["a negative zThreshold", { ...ok, zThreshold: -1 }, "zThreshold", /./],
    ["minSamples of 1", { ...ok, minSamples: 1 }, "minSamples", /./],
    ["a window under a second", { ...ok, windowMs: 10 }, "windowMs", /./],
    ["an empty batch", { readings: [] }, "readings", /at least one/],
    [
      "a bad reading deep in a batch",
      { readings: [ok, ok, { ...ok, value: null }] },
      "readings.2.value",
      /number/,
    ],
    ["two forms at once", { ...ok, readings: [ok] }, "", /exactly one of/],
    ["no form at all", { windowMs: 60_000 }, "", /exactly one of/],
    ["a query without a device", { query: { metric: "m" } }, "query.device", /./],
  ])("rejects %s", (_name, input, path, message) => {
    const found = issues(input);
    expect(
      found.some((i) => i.path === path && message.test(i.message)),
      JSON.stringify(found),
    ).toBe(true);
  });

  it("rejects a batch of 5,001 readings with a hint to split it", () => {
    const found = issues({ readings: Array(5_001).fill(ok) });
    expect(found).toEqual([{ path: "readings", message: expect.stringMatching(/split/) }]);
  });

  it("fills the defaults", () => {
    expect(telemetry.input.parse(ok)).toMatchObject({
      kind: "ingest",
      windowMs: HOUR,
      zThreshold: 3,
      minSamples: 5,
      anomaliesOnly: false,
    });
  });
});

describe("telemetry: routes (/fn/telemetry)", () => {
  const app = () =>
    new Hono<FunctionEnv>()
      .use(async (c, next) => {
        c.set("ctx", ctx);
        await next();
      })
      .route("/fn/telemetry", telemetryRoutes)
      .onError((err, c) =>
        err instanceof AppError
          ? c.json(err.toProblem(), err.status as 422)
          : c.json({ bug: String(err) }, 500),
      );

  it("GET /series/:device/:metric returns the stats and the newest readings", async () => {
    await ingest({ readings: series([2, 4, 4, 4, 5, 5, 7, 9], { device: "gw/1" }) });
    const res = await app().request(`/fn/telemetry/series/${encodeURIComponent("gw/1")}/temp_c?limit=3`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { series: Query["series"][number]; readings: Query["readings"] };
    expect(body.series).toMatchObject({ device: "gw/1", metric: "temp_c", count: 8, mean: 5 });
    expect(body.series.stddev).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(body.readings.map((r) => r.value)).toEqual([9, 7, 5]);
  });

  it("GET /series/:device lists the device's metrics; windowMs narrows the window", async () => {
    await ingest({
      readings: [...series([1, 2, 3]), ...series([7], { metric: "rpm", endAgoMs: 30 * MINUTE })],
    });
    const res = await app().request(`/fn/telemetry/series/pump-1?windowMs=${10 * MINUTE}`);
    const body = (await res.json()) as { series: Query["series"]; windowMs: number };
    expect(body.windowMs).toBe(10 * MINUTE);
    expect(body.series.map((s) => [s.metric, s.count])).toEqual([
      ["rpm", 0],
      ["temp_c", 3],
    ]);
  });

  it("bad parameters are a 422 INPUT_INVALID naming the parameter", async () => {
    const res = await app().request("/fn/telemetry/series/pump-1/temp_c?windowMs=abc");
    expect(res.status).toBe(422);
    const body = (await res.json()) as { code: string; errors: Array<{ path: string }> };
    expect(body.code).toBe("INPUT_INVALID");
    expect(body.errors.map((e) => e.path)).toEqual(["windowMs"]);
  });
});

describe("telemetry on a node (HTTP)", () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startTestNode({ worker: false });
  });
  afterAll(async () => {
    await node.dispose();
  });

  it("is in the catalogue, invokes over HTTP and serves its routes", async () => {
    const list = (await (await node.request("/v1/functions")).json()) as {
      functions: Array<{ name: string; routes?: string }>;
    };
    expect(list.functions.find((f) => f.name === "telemetry")?.routes).toBe("/fn/telemetry");

    const res = await node.request(
      "/v1/functions/telemetry/invoke",
      jsonPost({ device: "d1", metric: "m", value: 3 }),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { output: Ingest } | Ingest;
    const output = "output" in body ? body.output : body;
    expect(output).toMatchObject({ mode: "ingest", stored: 1 });

    const series = await node.request("/fn/telemetry/series/d1/m");
    expect(series.status).toBe(200);
    expect(((await series.json()) as { series: { count: number } }).series.count).toBe(1);
  });

  it("bad input is a 422 problem with the path of the mistake", async () => {
    const res = await node.request(
      "/v1/functions/telemetry/invoke",
      jsonPost({ readings: [{ device: "d1", metric: "m", value: "hot" }] }),
    );
    expect(res.status).toBe(422);
    const body = (await res.json()) as { code: string; errors: Array<{ path: string }> };
    expect(body.code).toBe("INPUT_INVALID");
    expect(body.errors.map((e) => e.path)).toContain("readings.0.value");
  });
});
