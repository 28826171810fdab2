import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApp, type RouteGroup } from "./app.ts";
import { invocationAuditEntry } from "./audit/invocation-entry.ts";
import { bootstrapAdmin, createSecurity } from "./auth/security.ts";
import { Catalogue } from "./catalogue.ts";
import type { Config } from "./config.ts";
import { recordConfig } from "./config-audit.ts";
import { type Database, openDatabase } from "./db.ts";
import type { AnyFunction, NodeInfo } from "./function.ts";
import { ConcurrencyLimits } from "./invocations/concurrency.ts";
import { InvocationStore } from "./invocations/store.ts";
import { type FinishedInvocation, Invoker } from "./invoke.ts";
import type { LLM } from "./llm/types.ts";
import { unconfiguredLLM } from "./llm/unconfigured.ts";
import { createLogger, type Logger } from "./log.ts";
import { applyMigrations } from "./migrate.ts";
import { loadNodeId } from "./node-identity.ts";
import { createForwarder } from "./placement/forwarder.ts";
import type { AppEnv, Platform, ReadinessCheck } from "./platform.ts";
import type { Queue, QueueWorker } from "./queue/types.ts";
import { createStateStore } from "./state.ts";
import { createRuntimeMetrics } from "./telemetry/metrics.ts";
import { createWorkflowEngine } from "./workflows/engine.ts";
import type { WorkflowEngine } from "./workflows/types.ts";

export interface NodeOptions {
  config: Config;
  functions: AnyFunction[];
  /** the queue backend; deploy/server passes bullmq, deploy/edge the local one */
  queue: (database: Database) => Queue | Promise<Queue>;
  llm?: LLM;
  log?: Logger;
  routes?: RouteGroup[];
  readiness?: ReadinessCheck[];
  onFinished?: (event: FinishedInvocation) => Promise<void> | void;
  plugins?: Array<(platform: Platform) => Promise<NodePlugin>>;
}

/**
 * Something deploy/* plugs into a node once its platform exists (the sync client or hub):
 * extra routes, readiness checks, the node's view of connectivity, and a close hook.
 */
export interface NodePlugin {
  routes?: RouteGroup[];
  readiness?: ReadinessCheck[];
  /** edge connectivity as this plugin sees it (null: not known yet) */
  online?: () => boolean | null;
  close?: () => Promise<void>;
}

export interface RuntimeNode {
  platform: Platform;
  app: OpenAPIHono<AppEnv>;
  /** starts consuming the queue in this process */
  startWorker(): QueueWorker;
  /** finishes or releases in-flight work, then closes the queue and the database */
  close(): Promise<void>;
}

/**
 * Assembles one node: database (migrated), queue, catalogue, invoker and HTTP app. Same code
 * on edge and server; deploy/* chooses the queue backend and how to listen.
 */
export async function createNode(opts: NodeOptions): Promise<RuntimeNode> {
  const { config } = opts;
  const log = opts.log ?? createLogger(config.logLevel, { role: config.role });
  const database = await openDatabase(config.dbUrl, { authToken: config.dbAuthToken });
  let queue: Queue | undefined;
  try {
    await applyMigrations(database);
    const nodeId = await loadNodeId(database.db);
    queue = await opts.queue(database);
    const catalogue = new Catalogue(opts.functions);
    const invocations = new InvocationStore(database.db, database.client);
    const state = createStateStore(database.db);
    const llm = opts.llm ?? unconfiguredLLM();
    const metrics = createRuntimeMetrics();
    const limits = new ConcurrencyLimits(
      Object.fromEntries(opts.functions.filter((f) => f.concurrency).map((f) => [f.name, f.concurrency!])),
    );
    const nodeInfo: NodeInfo = { id: nodeId, role: config.role === "edge" ? "edge" : "server", online: true };
    const forwarder =
      config.role === "edge" && config.serverUrl
        ? createForwarder({ serverUrl: config.serverUrl, serverKey: config.serverKey })
        : undefined;
    // An edge is online while its server answers: the sync plugin knows best, forwarding
    // otherwise; a node with neither has no server to be away from.
    const plugged: NodePlugin[] = [];
    const node = (): NodeInfo => {
      if (nodeInfo.role !== "edge") return nodeInfo;
      for (const p of plugged) {
        const online = p.online?.();
        if (online !== undefined && online !== null) return { ...nodeInfo, online };
      }
      return forwarder ? { ...nodeInfo, online: forwarder.online() } : nodeInfo;
    };
    const security = await createSecurity(database, config, nodeId, log);
    if (config.role !== "worker") await bootstrapAdmin(security, config, log);
    await recordConfig(database.db, security.audit, config);
    // The engine needs the invoker and the invoker's hooks need the engine: bound late.
    let workflows: WorkflowEngine | undefined;
    const invoker = new Invoker({
      db: database.db,
      catalogue,
      store: invocations,
      queue,
      state,
      llm,
      node,
      log,
      metrics,
      retryBackoffMs: config.retryBackoffMs,
      forwarder,
      limits,
      onFinished: async (event) => {
        security.audit.record(invocationAuditEntry(event)); // every invocation is audited
        await workflows?.onInvocationFinished(event); // never throws: it logs and heals later
        await opts.onFinished?.(event);
      },
      workflows: () => workflows,
      // Keys and tokens minted from them are re-checked when a queued job runs; the node's
      // own (system) work and anonymous callers have no key to revoke.
      credentialUsable: (p) =>
        p.via === "key" || p.via === "jwt" ? security.keys.isUsable(p.id) : Promise.resolve(true),
    });
    const engine = createWorkflowEngine({ db: database.db, invoker, catalogue, log });
    workflows = engine;
    const q = queue;
    metrics.registry.gauge("sutazai_queue_jobs", "Jobs in the queue by state", async () => {
      const counts = await q.counts();
      return Object.entries(counts).map(([state, n]) => [{ state }, n]);
    });
    const readiness: ReadinessCheck[] = [
      {
        name: "db",
        critical: true,
        check: async () => {
          await database.client.execute("SELECT 1");
          return {};
        },
      },
      {
        name: "queue",
        critical: true,
        check: async () => {
          await q.ping();
          return { backend: q.kind };
        },
      },
      {
        // Reported, never fatal: an edge without its model still serves everything else.
        name: "llm",
        critical: false,
        check: async () => {
          if (llm.provider !== "none") await llm.ping();
          return { provider: llm.provider };
        },
      },
      ...(opts.readiness ?? []),
    ];
    const platform: Platform = {
      config,
      database,
      catalogue,
      invoker,
      invocations,
      queue,
      state,
      llm,
      metrics,
      log,
      node,
      security,
      forwarder,
      limits,
      readiness,
      workflows: engine,
    };
    for (const plugin of opts.plugins ?? []) {
      const p = await plugin(platform);
      plugged.push(p);
      readiness.push(...(p.readiness ?? []));
    }
    const app = createApp(platform, [...(opts.routes ?? []), ...plugged.flatMap((p) => p.routes ?? [])]);
    // Workflows interrupted by a restart continue: results recorded while no process was
    // listening are read back, ready steps enqueued. Safe to run in every process at once.
    await engine.recover().catch((err) => log.error("workflow recovery failed", { error: String(err) }));
    const workers: QueueWorker[] = [];
    let requeueTimer: NodeJS.Timeout | undefined;
    return {
      platform,
      app,
      startWorker() {
        const worker = q.process(invoker.runJob, { concurrency: config.concurrency });
        workers.push(worker);
        // Jobs lost between their row and the queue (a crash in enqueue, a flushed Redis)
        // are offered again: now, then every minute. Duplicates are harmless (same job id).
        if (!requeueTimer) {
          const sweep = () =>
            void invoker
              .requeueLost()
              .catch((err) => log.warn("re-queueing lost invocations failed", { error: String(err) }));
          sweep();
          requeueTimer = setInterval(sweep, 60_000);
          requeueTimer.unref();
        }
        return worker;
      },
      async close() {
        if (requeueTimer) clearInterval(requeueTimer);
        engine.close();
        for (const p of plugged)
          await p.close?.().catch((err) => log.warn("plugin close failed", { error: String(err) }));
        await Promise.all(workers.map((w) => w.close(config.shutdownGraceMs)));
        await invocations.flush();
        await security.audit.flush();
        await security.keys.flush();
        await q.close();
        await llm.close().catch(() => {});
        database.close();
      },
    };
  } catch (err) {
    await queue?.close().catch(() => {});
    database.close();
    throw err;
  }
}
