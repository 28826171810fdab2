import { Hono } from "hono";
import { z } from "zod";
import { AppError, fieldErrors } from "../../runtime/errors.ts";
import type { FunctionEnv } from "../../runtime/function.ts";
import { querySeries } from "./query.ts";
import { DEFAULT_WINDOW_MS, MAX_RECENT, MAX_WINDOW_MS, seriesName, timestamp } from "./schema.ts";

// Query strings are text: read all-digit values as numbers so `until=1714560000000` works
// as well as `until=2024-05-01T12:00:00Z`.
const numeric = (v: unknown) => (typeof v === "string" && /^\d+(\.\d+)?$/.test(v) ? Number(v) : v);

const seriesParams = z.object({
  device: seriesName,
  metric: seriesName.optional(),
  windowMs: z.preprocess(numeric, z.number().int().min(1_000).max(MAX_WINDOW_MS)).default(DEFAULT_WINDOW_MS),
  until: z.preprocess(numeric, timestamp).optional(),
  limit: z.preprocess(numeric, z.number().int().min(0).max(MAX_RECENT)).optional(),
});

function parse(input: Record<string, string | undefined>) {
  const parsed = seriesParams.safeParse(input);
  if (!parsed.success) {
    throw new AppError(422, "INPUT_INVALID", "The path or query parameters are invalid.", {
      errors: fieldErrors(parsed.error.issues),
    });
  }
  return parsed.data;
}

/**
 * REST-style reads for operators, mounted at /fn/telemetry (writes go through the invoke
 * endpoint, which records and audits them). Names with `/` in them are sent URL-encoded
 * (`%2F`).
 *
 *   GET /series/:device?windowMs=&until=&limit=          every metric of a device
 *   GET /series/:device/:metric?windowMs=&until=&limit=  one series + its newest readings
 */
export const telemetryRoutes = new Hono<FunctionEnv>()
  .get("/series/:device", async (c) => {
    const p = parse({ ...c.req.query(), device: c.req.param("device") });
    const query = { device: p.device, until: p.until, recent: p.limit ?? 0 };
    const { windowMs, series, readings } = await querySeries(c.var.ctx.db, query, p.windowMs);
    return c.json({ device: p.device, windowMs, series, readings });
  })
  .get("/series/:device/:metric", async (c) => {
    const p = parse({ ...c.req.query(), device: c.req.param("device"), metric: c.req.param("metric") });
    const query = { device: p.device, metric: p.metric, until: p.until, recent: p.limit ?? 100 };
    const { windowMs, series, readings } = await querySeries(c.var.ctx.db, query, p.windowMs);
    return c.json({ windowMs, series: series[0], readings });
  });
