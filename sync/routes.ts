import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { AppError } from "../runtime/errors.ts";
import { requirePermission } from "../runtime/http/guard.ts";
import { json, problem } from "../runtime/http/schemas.ts";
import type { AppEnv } from "../runtime/platform.ts";
import type { SyncClient } from "./client.ts";
import type { SyncHub } from "./hub.ts";
import {
  MAX_PULL_LIMIT,
  NODE_HEADER,
  NodeSummarySchema,
  PullResponseSchema,
  PushResponseSchema,
  SCHEMA_HEADER,
  SnapshotPageSchema,
} from "./protocol.ts";
import { SyncTransportError } from "./transport.ts";
import { checkPushRequest } from "./validate.ts";

const NodeHeaders = z.object({
  [NODE_HEADER]: z.string().min(1).max(128).openapi({ description: "the calling edge's site id" }),
  [SCHEMA_HEADER]: z.coerce.number().int().nonnegative().optional(),
});
const Limit = (max: number) => z.coerce.number().int().min(1).max(max).optional();

const pushRoute = createRoute({
  method: "post",
  path: "/v1/sync/push",
  summary: "Edge → server: apply one batch of an edge's outbox (body: SyncPushRequest)",
  description:
    "Applied and acknowledged in one transaction: a re-sent batch is a no-op. Refused whole (409 CLOCK_SKEW) when " +
    "stamped more than 5 minutes ahead of the server's clock.",
  request: { headers: NodeHeaders },
  responses: {
    200: json(PushResponseSchema, "Applied; `acked` covers the batch"),
    400: problem("Malformed batch"),
    409: problem(
      "Clock skew, schema mismatch, or a gap (PUSH_GAP, with the acknowledged seq in x-sutazai-acked)",
    ),
  },
});
const pullRoute = createRoute({
  method: "get",
  path: "/v1/sync/pull",
  summary: "Server → edge: changes after a cursor (the edge's own left out), or a re-bootstrap answer",
  description:
    "A page holds log entries standing for up to `limit` pushed changes (default 1000), in whole pushed batches: a batch " +
    "the server logged as one entry is never split, so a page may exceed a limit smaller than one batch. A pushed batch " +
    "is sent as its rows are now (one change per distinct column stamp, and the tombstone), so the count of changes can " +
    "differ from the count pushed. Store `next` with the changes and pull from it.",
  request: {
    headers: NodeHeaders,
    query: z.object({
      cursor: z.coerce.number().int().nonnegative(),
      limit: Limit(MAX_PULL_LIMIT),
      compact: z
        .enum(["0", "1"])
        .optional()
        .openapi({ description: "1: changes in the compact form (SyncChangeTuple); objects otherwise" }),
    }),
  },
  responses: { 200: json(PullResponseSchema, "A page of changes, or rebootstrap: true") },
});
const snapshotRoute = createRoute({
  method: "get",
  path: "/v1/sync/snapshot",
  summary: "Server → edge: one page of the full replicated state, for a re-bootstrap",
  request: {
    headers: NodeHeaders,
    query: z.object({ after: z.string().max(2000).optional(), limit: Limit(MAX_PULL_LIMIT) }),
  },
  responses: { 200: json(SnapshotPageSchema, "A page"), 400: problem("Bad page token") },
});
const nodesRoute = createRoute({
  method: "get",
  path: "/v1/nodes",
  summary: "Every edge node: last seen, pending changes, lag, schema version",
  responses: { 200: json(z.object({ nodes: z.array(NodeSummarySchema) }), "The nodes") },
});

/**
 * `hub`/`client` may be a getter: route groups are built before the node's database is
 * open, and the sync context is made after. Until it is there, the routes answer 503.
 */
type Lazy<T> = T | (() => T | undefined);

function resolve<T extends object>(dep: Lazy<T>, what: string): T {
  const value = typeof dep === "function" ? (dep as () => T | undefined)() : dep;
  if (!value) {
    throw new AppError(
      503,
      "SYNC_NOT_CONFIGURED",
      what === "client"
        ? "This edge does not sync: start it with --server-url (SUTAZAI_SERVER_URL) and SUTAZAI_SERVER_KEY."
        : "The sync hub is not running on this node.",
    );
  }
  return value;
}

/** Server: POST /v1/sync/push, GET /v1/sync/pull, GET /v1/sync/snapshot, GET /v1/nodes. */
export function syncHubRoutes(deps: { hub: Lazy<SyncHub> }): OpenAPIHono<AppEnv> {
  const hubOf = () => resolve(deps.hub, "hub");
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(pushRoute, async (c) => {
    requirePermission(c, "sync:replicate");
    const parsed = checkPushRequest(c.get("body"), c.get("bodyText"));
    if (!parsed.ok)
      throw new AppError(400, "SYNC_BATCH_INVALID", "The push body is not a valid sync batch.", {
        errors: parsed.errors,
      });
    const result = await hubOf().pushBatch(nodeOf(c), parsed.value, { keyId: c.get("principal").id });
    return c.json(result, 200);
  });
  app.openapi(pullRoute, async (c) => {
    requirePermission(c, "sync:replicate");
    const { cursor, limit = 1000, compact } = c.req.valid("query");
    const body = await hubOf().pullJson(nodeOf(c), cursor, limit, {
      schemaVersion: schemaOf(c),
      keyId: c.get("principal").id,
      compact: compact === "1",
    });
    // Sent as built: the changes' JSON came from SQLite and needs no re-encoding.
    return new Response(body, { status: 200, headers: { "content-type": "application/json" } }) as never;
  });
  app.openapi(snapshotRoute, async (c) => {
    requirePermission(c, "sync:replicate");
    const { after, limit = 1000 } = c.req.valid("query");
    return c.json(await hubOf().snapshot(nodeOf(c), after ?? null, limit), 200);
  });
  app.openapi(nodesRoute, async (c) => {
    requirePermission(c, "nodes:read");
    return c.json({ nodes: await hubOf().listNodes() }, 200);
  });
  return app;
}

const StatusSchema = z
  .object({
    serverUrl: z.string(),
    siteId: z.string(),
    online: z.boolean().nullable(),
    pendingOutbox: z.number().int(),
    lastPushAt: z.string().nullable(),
    lastPullAt: z.string().nullable(),
    lastSuccessAt: z.string().nullable(),
    lastError: z.object({ code: z.string(), message: z.string(), at: z.string() }).nullable(),
    lag: z.object({ changes: z.number().int().nullable(), ms: z.number().nullable() }),
    consecutiveFailures: z.number().int(),
    nextAttemptAt: z.string().nullable(),
  })
  .openapi("SyncStatus");
const RoundSchema = z
  .object({
    pushed: z.number().int(),
    pulled: z.number().int(),
    skipped: z.number().int(),
    quarantined: z.number().int(),
    rebootstrapped: z.boolean(),
    durationMs: z.number(),
  })
  .openapi("SyncRound");

const statusRoute = createRoute({
  method: "get",
  path: "/v1/sync/status",
  summary: "Edge: online?, pending outbox rows, last push/pull, last error, lag",
  responses: { 200: json(StatusSchema, "Sync status") },
});
const nowRoute = createRoute({
  method: "post",
  path: "/v1/sync/now",
  summary: "Edge: run one full push + pull round now; returns what moved",
  responses: {
    200: json(RoundSchema, "What moved"),
    502: problem("The sync server refused or failed the round"),
    503: problem("The sync server is unreachable"),
  },
});

/** Edge: GET /v1/sync/status, POST /v1/sync/now. */
export function syncClientRoutes(deps: { client: Lazy<SyncClient> }): OpenAPIHono<AppEnv> {
  const clientOf = () => resolve(deps.client, "client");
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(statusRoute, async (c) => {
    requirePermission(c, "sync:read");
    return c.json(await clientOf().status(), 200);
  });
  app.openapi(nowRoute, async (c) => {
    requirePermission(c, "sync:manage");
    const client = clientOf();
    try {
      return c.json(await client.syncNow(), 200);
    } catch (err) {
      throw roundError(err);
    }
  });
  return app;
}

function roundError(err: unknown): AppError {
  if (err instanceof SyncTransportError && err.network) {
    return new AppError(503, "SYNC_SERVER_UNREACHABLE", err.message, { cause: err });
  }
  if (err instanceof AppError)
    return new AppError(502, "SYNC_FAILED", `${err.code}: ${err.message}`, { cause: err });
  return new AppError(502, "SYNC_FAILED", `The sync round failed: ${(err as Error).message}`, { cause: err });
}

function nodeOf(c: Context<AppEnv>): string {
  const node = c.req.header(NODE_HEADER);
  if (!node)
    throw new AppError(400, "SYNC_NODE_MISSING", `Send the edge's site id in the ${NODE_HEADER} header.`);
  return node;
}

function schemaOf(c: Context<AppEnv>): number | undefined {
  const v = c.req.header(SCHEMA_HEADER);
  return v === undefined ? undefined : Number(v);
}
