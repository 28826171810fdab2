import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv, Platform } from "../platform.ts";
import { requirePermission } from "./guard.ts";
import { problem } from "./schemas.ts";

const metricsRoute = createRoute({
  method: "get",
  path: "/metrics",
  summary: "Prometheus metrics (text exposition format)",
  responses: {
    200: { description: "Metrics", content: { "text/plain": { schema: z.string() } } },
    403: problem("The credential lacks metrics:read"),
  },
});

export function metricsRoutes(platform: Platform) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(metricsRoute, async (c) => {
    // Public only when configured (SUTAZAI_METRICS_PUBLIC); otherwise metrics:read like any endpoint.
    if (!platform.config.metricsPublic) requirePermission(c, "metrics:read");
    const text = await platform.metrics.registry.render();
    return c.text(text, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
  });
  return app;
}
