import type { Db } from "../../runtime/db.ts";
import type { SeriesQuery, TelemetryOutput } from "./schema.ts";
import { metricsOf, recentReadings, seriesStats } from "./store.ts";

export type QueryOutput = Extract<TelemetryOutput, { mode: "query" }>;

/**
 * Stats of one series, or of every metric of a device (metric omitted), over the window
 * [until - windowMs, until]; stores nothing. A metric that went quiet shows count 0 — for
 * an operator that is often the interesting answer (a dead sensor).
 */
export async function querySeries(
  db: Db,
  query: SeriesQuery,
  windowMs: number,
  now = Date.now(),
): Promise<QueryOutput> {
  const until = query.until ?? now;
  const from = until - windowMs;
  const metrics = query.metric !== undefined ? [query.metric] : await metricsOf(db, query.device);
  const series = await seriesStats(
    db,
    metrics.map((metric) => ({ device: query.device, metric, from, until })),
  );
  const readings = await recentReadings(
    db,
    { device: query.device, metric: query.metric, from, until },
    query.recent,
  );
  return { mode: "query", windowMs, series, readings };
}
