import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { InvocationRow } from "../../schema/index.ts";
import { AppError } from "../errors.ts";
import { INVOCATION_STATUSES, type InvocationStatus } from "../invocations/store.ts";
import type { AppEnv, Platform } from "../platform.ts";
import { requirePermission } from "./guard.ts";
import { IdParam, InvocationSchema, json, problem } from "./schemas.ts";

const ListQuery = z.object({
  function: z.string().max(100).optional(),
  status: z.enum(INVOCATION_STATUSES as [InvocationStatus, ...InvocationStatus[]]).optional(),
  before: z.string().max(100).optional().openapi({ description: "cursor: the `next` of the previous page" }),
  limit: z.coerce.number().int().min(1).max(500).optional(),
});

const listRoute = createRoute({
  method: "get",
  path: "/v1/invocations",
  summary: "Recent invocations, newest first; `status=dead` is the dead-letter list",
  request: { query: ListQuery },
  responses: {
    200: json(z.object({ invocations: z.array(InvocationSchema), next: z.string().nullable() }), "A page"),
    400: problem("Bad filter"),
  },
});
const getRoute = createRoute({
  method: "get",
  path: "/v1/invocations/{id}",
  summary: "Status, output or error, progress and timings of one invocation",
  request: { params: IdParam },
  responses: { 200: json(InvocationSchema, "The invocation"), 404: problem("Unknown id") },
});
const cancelRoute = createRoute({
  method: "delete",
  path: "/v1/invocations/{id}",
  summary: "Cancel a queued invocation",
  request: { params: IdParam },
  responses: {
    200: json(InvocationSchema, "Cancelled"),
    404: problem("Unknown id"),
    409: problem("Already running or finished"),
  },
});
const redriveRoute = createRoute({
  method: "post",
  path: "/v1/invocations/{id}/redrive",
  summary: "Re-drive a dead invocation: queue it again with fresh attempts",
  request: { params: IdParam },
  responses: {
    202: json(InvocationSchema, "Queued again"),
    404: problem("Unknown id"),
    409: problem("Not dead"),
  },
});

export function invocationRoutes(platform: Platform) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: undefined });
  app.openapi(listRoute, async (c) => {
    requirePermission(c, "invocations:read");
    const query = c.req.valid("query");
    const limit = query.limit ?? 50;
    const rows = await platform.invocations.list({ ...query, limit });
    const next = rows.length === limit ? rows[rows.length - 1]!.id : null;
    return c.json({ invocations: rows.map(presentInvocation), next }, 200);
  });
  app.openapi(getRoute, async (c) => {
    requirePermission(c, "invocations:read");
    const id = c.req.valid("param").id;
    const row = await platform.invocations.get(id);
    if (!row) throw new AppError(404, "INVOCATION_NOT_FOUND", `No invocation with id "${id.slice(0, 80)}".`);
    return c.json(presentInvocation(row), 200);
  });
  app.openapi(cancelRoute, async (c) => {
    requirePermission(c, "invocations:manage");
    const row = await platform.invoker.cancel(c.req.valid("param").id);
    return c.json(presentInvocation(row), 200);
  });
  app.openapi(redriveRoute, async (c) => {
    requirePermission(c, "invocations:manage");
    const row = await platform.invoker.redrive(c.req.valid("param").id);
    return c.json(presentInvocation(row), 202);
  });
  return app;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The public shape of an invocation row: JSON columns parsed, times as ISO strings. */
export function presentInvocation(row: InvocationRow): z.infer<typeof InvocationSchema> {
  return {
    id: row.id,
    function: row.function,
    trigger: row.trigger,
    status: row.status as InvocationStatus,
    attempt: row.attempt,
    maxAttempts: row.maxAttempts,
    output: row.output === null ? undefined : JSON.parse(row.output),
    error: row.error === null ? null : JSON.parse(row.error),
    progress: row.progress === null ? null : JSON.parse(row.progress),
    principal: row.principal,
    nodeId: row.nodeId,
    idempotencyKey: row.idempotencyKey,
    queuedAt: iso(row.queuedAt),
    startedAt: iso(row.startedAt),
    finishedAt: iso(row.finishedAt),
    durationMs: row.durationMs,
  };
}
