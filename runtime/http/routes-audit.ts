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
const node = z
  .string()
  .min(1)
  .max(200)
  .optional()
  .openapi({ description: "an edge's node id: its audit chain as received by this server (sync)" });
const Query = z.object({
  node,
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

const VerifyResult = z
  .object({
    ok: z.boolean(),
    count: z.number(),
    head: z.string().optional(),
    seq: z.number().optional(),
    id: z.string().nullable().optional(),
    reason: z.enum(["hash_mismatch", "prev_hash_mismatch", "seq_gap", "truncated"]).optional(),
  })
  .openapi("AuditVerifyResult");

const verifyRoute = createRoute({
  method: "get",
  path: "/v1/audit/verify",
  summary:
    "Recomputes the hash chain (this node's, or an edge's as received by sync) and names the first broken entry",
  request: { query: z.object({ node }) },
  responses: {
    200: json(VerifyResult, "The verdict: ok, or the first entry that breaks the chain and why"),
  },
});

export function auditRoutes(platform: Platform) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(listRoute, async (c) => {
    requirePermission(c, "audit:read");
    const page = await platform.security.audit.query(c.req.valid("query") as never);
    return c.json(page as never, 200);
  });
  app.openapi(verifyRoute, async (c) => {
    requirePermission(c, "audit:read");
    const result = await platform.security.audit.verify(c.req.valid("query").node);
    return c.json(result, 200);
  });
  return app;
}
