import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv, Platform } from "../platform.ts";
import { json } from "./schemas.ts";

const CheckSchema = z
  .object({ status: z.enum(["ok", "down"]), critical: z.boolean(), error: z.string().optional() })
  .catchall(z.unknown());
const ReadySchema = z
  .object({
    status: z.enum(["ready", "not_ready"]),
    node: z.unknown(),
    checks: z.record(z.string(), CheckSchema),
  })
  .openapi("Readiness");

const healthRoute = createRoute({
  method: "get",
  path: "/healthz",
  summary: "Liveness",
  responses: { 200: json(z.object({ status: z.literal("ok") }), "The process is alive") },
});
const readyRoute = createRoute({
  method: "get",
  path: "/readyz",
  summary: "Readiness with a check per dependency",
  description:
    "503 only when the database or the queue is down; an unreachable LLM or sync server is reported but does not make the node unready.",
  responses: { 200: json(ReadySchema, "Ready"), 503: json(ReadySchema, "Not ready") },
});

const CHECK_TIMEOUT_MS = 2000;

export function healthRoutes(platform: Platform) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(healthRoute, (c) => c.json({ status: "ok" as const }, 200));
  app.openapi(readyRoute, async (c) => {
    const results = await Promise.all(
      platform.readiness.map(async (check) => {
        try {
          const details = await withTimeout(check.check(), CHECK_TIMEOUT_MS);
          return [
            check.name,
            { status: "ok" as const, critical: check.critical, ...(details ?? {}) },
          ] as const;
        } catch (err) {
          return [
            check.name,
            { status: "down" as const, critical: check.critical, error: (err as Error).message },
          ] as const;
        }
      }),
    );
    const ready = results.every(([, r]) => r.status === "ok" || !r.critical);
    const body = {
      status: ready ? ("ready" as const) : ("not_ready" as const),
      node: platform.node(),
      checks: Object.fromEntries(results),
    };
    return ready ? c.json(body, 200) : c.json(body, 503);
  });
  return app;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
