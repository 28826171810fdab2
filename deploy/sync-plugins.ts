import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { fillMissingVectors } from "../functions/knowledge/distribute.ts";
import { createReplicaIndexer } from "../functions/knowledge/replica.ts";
import type { Config } from "../runtime/config.ts";
import { AppError } from "../runtime/errors.ts";
import { requirePermission } from "../runtime/http/guard.ts";
import type { NodePlugin } from "../runtime/node.ts";
import type { AppEnv, Platform } from "../runtime/platform.ts";
import {
  createSyncClient,
  createSyncHub,
  installSync,
  SYNCED_TABLES,
  startGarbageCollection,
  syncClientRoutes,
  syncHubRoutes,
} from "../sync/index.ts";
import { countOutbox } from "../sync/outbox.ts";

/**
 * Sync on an edge: change capture is installed whether or not a server is configured, so
 * work done before the edge joins a server is pushed when it does. With --server-url and
 * SUTAZAI_SERVER_KEY the client syncs in the background and on demand.
 */
export function edgeSync(config: Config) {
  return async (platform: Platform): Promise<NodePlugin> => {
    const ctx = await installSync(platform.database, SYNCED_TABLES, {
      role: "edge",
      siteId: platform.node().id,
    });
    if (!config.serverUrl || !config.serverKey) {
      return { routes: [() => unjoinedRoutes(() => countOutbox(ctx.client))] };
    }
    const log = platform.log.child({ component: "sync" });
    // Knowledge collections the server distributes arrive as rows; their search index is
    // built here in the background (after each pull, and at start in case the last run
    // stopped in between).
    const indexer = createReplicaIndexer(ctx.client, log);
    const client = createSyncClient({
      ctx,
      serverUrl: config.serverUrl,
      serverKey: config.serverKey,
      log,
      afterPull: async () => indexer.kick(),
    });
    indexer.kick();
    let online: boolean | null = null;
    const refresh = async () => {
      online = (await client.status()).online;
    };
    client.start();
    const timer = setInterval(() => void refresh().catch(() => {}), 1000);
    timer.unref();
    return {
      routes: [() => syncClientRoutes({ client })],
      online: () => online,
      readiness: [
        {
          // Reported, never fatal: an edge keeps serving while its server is away.
          name: "sync",
          critical: false,
          check: async () => {
            const status = await client.status();
            online = status.online;
            if (status.online === false) throw new Error(status.lastError?.message ?? "server unreachable");
            return {
              online: status.online,
              pendingOutbox: status.pendingOutbox,
              serverUrl: status.serverUrl,
            };
          },
        },
      ],
      close: async () => {
        clearInterval(timer);
        await client.stop();
        await indexer.close();
      },
    };
  };
}

/** Sync on a server: the hub edges push to and pull from, and GET /v1/nodes. */
export function serverSync() {
  return async (platform: Platform): Promise<NodePlugin> => {
    const ctx = await installSync(platform.database, SYNCED_TABLES, {
      role: "server",
      siteId: platform.node().id,
    });
    const hub = createSyncHub(ctx);
    // Distributed knowledge ingested before vectors travelled with chunks: give them theirs.
    const filled = await fillMissingVectors(ctx.client);
    if (filled > 0) platform.log.info("knowledge: vectors added to distributed chunks", { chunks: filled });
    // Tombstones and change-log entries older than the horizon go; edges further behind re-bootstrap.
    const stopGc = startGarbageCollection(ctx, {
      onError: (err) => platform.log.warn("sync garbage collection failed", { error: String(err) }),
    });
    return { routes: [() => syncHubRoutes({ hub })], close: async () => stopGc() };
  };
}

const statusRoute = createRoute({
  method: "get",
  path: "/v1/sync/status",
  summary: "Sync status of this edge",
  responses: {
    200: {
      description: "Not joined to a server",
      content: {
        "application/json": { schema: z.object({ configured: z.literal(false), pendingOutbox: z.number() }) },
      },
    },
  },
});
const nowRoute = createRoute({
  method: "post",
  path: "/v1/sync/now",
  summary: "Run one sync round now",
  responses: { 409: { description: "Not joined to a server" } },
});

/** An edge without a server still answers the sync endpoints, saying how to join. */
function unjoinedRoutes(pending: () => Promise<number>) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(statusRoute, async (c) => {
    requirePermission(c, "sync:read");
    return c.json({ configured: false as const, pendingOutbox: await pending() }, 200);
  });
  app.openapi(nowRoute, (c) => {
    requirePermission(c, "sync:manage");
    throw new AppError(
      409,
      "SYNC_NOT_CONFIGURED",
      "This edge has no server: start it with --server-url URL and SUTAZAI_SERVER_KEY (a key with role node created on the server).",
    );
  });
  return app;
}
