import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv, Platform } from "../platform.ts";
import { requirePermission } from "./guard.ts";
import { json, problem } from "./schemas.ts";

const Entry = z
  .object({
    seq: z.number(),
    id: z.string(),
    ts: z.number(),
    actor: z.string(),
    role: z.string().nullable(),
    action: z.string(),
    target: z.string().nullable(),
    outcome: z.string(),
    details: z.unknown(),
    prevHash: z.string(),
    hash: z.string(),
  })
  .openapi("AuditEntry");

const time = z.union([
  z.coerce.number().int().min(0),
  z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
]);
const Query = z.object({
  action: z.string().max(100).optional(),
  actor: z.string().max(200).optional(),
  since: time.optional().openapi({ description: "unix ms or ISO time" }),
  until: time.optional(),
  after: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .openapi({ description: "cursor: the `next` of the previous page" }),
  order: z.enum(["asc", "desc"]).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

const listRoute = createRoute({
  method: "get",
  path: "/v1/audit",
  summary: "The tamper-evident audit log (admin, auditor), filtered and paged",
  request: { query: Query },
  responses: {
    200: json(z.object({ entries: z.array(Entry), next: z.number().nullable() }), "A page"),
    400: problem("Bad filter"),
  },
});

export function auditRoutes(platform: Platform) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(listRoute, async (c) => {
    requirePermission(c, "audit:read");
    const page = await platform.security.audit.query(c.req.valid("query") as never);
    return c.json(page as never, 200);
  });
  return app;
}
