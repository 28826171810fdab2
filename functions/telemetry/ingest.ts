import type { FunctionContext } from "../../runtime/function.ts";
import { uuidv7 } from "../../runtime/ids.ts";
import { scanRanges, summaryRanges } from "./ranges.ts";
import type { ScoredReading, TelemetryOutput, TelemetryRequest } from "./schema.ts";
import { baselineFromSums, judge, withoutValue } from "./stats.ts";
import { insertAndScan, type NewReading, seriesStats } from "./store.ts";

export type IngestRequest = Extract<TelemetryRequest, { kind: "ingest" }>;
export type IngestOutput = Extract<TelemetryOutput, { mode: "ingest" }>;

/**
 * Stores a batch of readings and scores each one: its z-score against the readings of the
 * same series in [ts - windowMs, ts] *without itself*, so an outlier cannot inflate the
 * stddev it is measured by. Readings earlier in the same batch count as history, which is
 * what a gateway flushing an offline backlog needs. Also summarizes each series over the
 * window ending now.
 */
export async function ingest(req: IngestRequest, ctx: FunctionContext): Promise<IngestOutput> {
  const receivedAt = Date.now();
  const rows: NewReading[] = req.readings.map((r) => ({
    id: uuidv7(),
    device: r.device,
    metric: r.metric,
    value: r.value,
    ts: r.ts ?? receivedAt,
  }));
  // Past this point the write commits even if the caller gives up: check before it.
  ctx.signal.throwIfAborted();
  const sums = await insertAndScan(ctx.db, rows, scanRanges(rows, req.windowMs), req.windowMs);
  const series = await seriesStats(ctx.db, summaryRanges(rows, req.windowMs, receivedAt));

  const rule = { zThreshold: req.zThreshold, minSamples: req.minSamples };
  let anomalies = 0;
  const readings: ScoredReading[] = [];
  rows.forEach((row, index) => {
    const windowSums = sums.get(row.id);
    if (!windowSums)
      throw new Error(`telemetry: reading ${row.id} missing from its own rolling window (a bug)`);
    const baseline = baselineFromSums(withoutValue(windowSums, row.value));
    const verdict = judge(row.value, baseline, rule);
    if (verdict.anomaly) anomalies++;
    if (verdict.anomaly || !req.anomaliesOnly) readings.push({ index, ...row, baseline, ...verdict });
  });
  if (anomalies > 0) ctx.log.info("telemetry anomalies", { anomalies, stored: rows.length });

  return {
    mode: "ingest",
    receivedAt,
    stored: rows.length,
    anomalies,
    windowMs: req.windowMs,
    zThreshold: req.zThreshold,
    minSamples: req.minSamples,
    series,
    readings,
  };
}
