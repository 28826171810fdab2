import { defineFunction } from "../../runtime/function.ts";
import { ingest } from "./ingest.ts";
import { querySeries } from "./query.ts";
import { telemetryRoutes } from "./routes.ts";
import { telemetryInput, telemetryOutput } from "./schema.ts";

export { telemetryRoutes } from "./routes.ts";
export { telemetryInput, telemetryOutput } from "./schema.ts";

/**
 * Sensor telemetry for a gateway: stores readings (insert-only) and answers with rolling
 * statistics per device+metric and a z-score anomaly flag per reading. Examples:
 *
 *   {"device": "pump-1", "metric": "temp_c", "value": 71.5}
 *   {"readings": [{"device": "pump-1", "metric": "temp_c", "value": 71.5, "ts": 1714560000000}, ...]}
 *   {"query": {"device": "pump-1", "metric": "temp_c", "recent": 20}, "windowMs": 600000}
 */
export const telemetry = defineFunction({
  name: "telemetry",
  description:
    "Stores sensor readings ({device, metric, value, ts?} or {readings:[...]}, up to 5,000) and returns rolling stats per device+metric over windowMs (default 1 h) with a z-score anomaly flag per reading (each scored against its window without itself; zThreshold default 3, minSamples default 5). {query:{device, metric?}} returns the stats without storing anything.",
  input: telemetryInput,
  output: telemetryOutput,
  // A retry after a timeout could store a batch twice (the write may have committed):
  // devices re-send on failure anyway, and an Idempotency-Key makes that safe.
  retries: 0,
  handler: (input, ctx) =>
    input.kind === "query" ? querySeries(ctx.db, input.query, input.windowMs) : ingest(input, ctx),
  app: telemetryRoutes,
});
