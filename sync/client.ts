import type { Logger } from "../runtime/log.ts";
import { collectGarbage, DEFAULT_GC_HORIZON_MS } from "./changelog.ts";
import type { SyncContext } from "./install.ts";
import { writeStatement } from "./lane.ts";
import { countOutbox, pruneOutbox, UPSTREAM, upstream } from "./outbox.ts";
import { emptyRound, pullChanges, pushOutbox, type RoundDeps, type SyncRound } from "./round.ts";
import { SyncScheduler } from "./scheduler.ts";
import { httpTransport, type SyncFetch, type SyncTransport, SyncTransportError } from "./transport.ts";

export interface SyncClientOptions {
  ctx: SyncContext;
  /** e.g. http://10.0.0.2:8788 (SUTAZAI_SERVER_URL) */
  serverUrl: string;
  /** a key with role `node` created on the server (SUTAZAI_SERVER_KEY) */
  serverKey: string;
  /** defaults to global fetch; tests inject a lossy one */
  fetch?: SyncFetch;
  intervalMs?: number;
  /** while offline, how often to check whether the server is back */
  probeMs?: number;
  pushBatchSize?: number;
  maxBatchBytes?: number;
  pullLimit?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  gcHorizonMs?: number;
  log?: Logger;
  /** test hook: runs before a pull page's COMMIT (throw = crash between apply and cursor) */
  beforeCommit?: () => void | Promise<void>;
  /**
   * Runs after a round that pulled something (e.g. to index replicated knowledge). Its
   * failure is logged and does not fail the round: the pulled rows are already committed.
   */
  afterPull?: (round: SyncRound) => Promise<unknown>;
}

export interface SyncStatus {
  serverUrl: string;
  siteId: string;
  /** null until the first attempt */
  online: boolean | null;
  pendingOutbox: number;
  lastPushAt: string | null;
  lastPullAt: string | null;
  lastSuccessAt: string | null;
  lastError: { code: string; message: string; at: string } | null;
  lag: { changes: number | null; ms: number | null };
  consecutiveFailures: number;
  nextAttemptAt: string | null;
}

export interface SyncClient {
  /** syncs now and then every intervalMs; retries failures with backoff, and at once when the server is back */
  start(): void;
  stop(): Promise<void>;
  /** one full push + pull round (queued behind a running one); throws if it fails */
  syncNow(): Promise<SyncRound>;
  /** folds acknowledged outbox rows into the merge metadata and drops them; GC hourly (start() does this after each round) */
  maintain(): Promise<void>;
  status(): Promise<SyncStatus>;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The edge's sync loop. @example createSyncClient({ ctx, serverUrl, serverKey }).start() */
export function createSyncClient(opts: SyncClientOptions): SyncClient {
  const { ctx } = opts;
  if (ctx.role !== "edge") throw new Error("createSyncClient needs a context installed with role: 'edge'");
  const transport: SyncTransport = httpTransport({
    serverUrl: opts.serverUrl,
    serverKey: opts.serverKey,
    siteId: ctx.siteId,
    schemaVersion: ctx.schemaVersion,
    fetch: opts.fetch,
  });
  const pullLimit = opts.pullLimit ?? 2000;
  const maxBatchBytes = opts.maxBatchBytes ?? 512 * 1024;
  const gcHorizonMs = opts.gcHorizonMs ?? DEFAULT_GC_HORIZON_MS;
  let online: boolean | null = null;
  let lastError: SyncStatus["lastError"] = null;
  let lastSuccessAt: number | null = null;
  let lastGcAt = 0;
  let queue: Promise<unknown> = Promise.resolve();
  const deps: RoundDeps = {
    ctx,
    transport,
    log: opts.log,
    beforeCommit: opts.beforeCommit,
    pullLimit,
    maxBatchBytes,
    batchSize: opts.pushBatchSize ?? 2000,
    head: null,
  };

  async function round(): Promise<SyncRound> {
    const started = Date.now();
    const result = emptyRound();
    try {
      await pushOutbox(deps, result);
      await pullChanges(deps, result);
      if (opts.afterPull && (result.pulled > 0 || result.rebootstrapped)) {
        await opts
          .afterPull(result)
          .catch((err) => opts.log?.warn("sync: after-pull work failed", { err: (err as Error).message }));
      }
      online = true;
      lastError = null;
      lastSuccessAt = Date.now();
      scheduler.succeeded(); // a round run by hand ends a backoff too
      await writeStatement(ctx.client, {
        sql: "UPDATE sync_peers SET last_error = NULL WHERE site = ?",
        args: [UPSTREAM],
      });
    } catch (err) {
      online = !(err instanceof SyncTransportError && err.network);
      // (the codes POST /v1/sync/now answers with, so status and the failed round agree)
      const code = online ? ((err as { code?: string }).code ?? "SYNC_FAILED") : "SYNC_SERVER_UNREACHABLE";
      lastError = { code, message: (err as Error).message, at: new Date().toISOString() };
      await writeStatement(ctx.client, {
        sql: "UPDATE sync_peers SET last_error = ? WHERE site = ?",
        args: [lastError.message, UPSTREAM],
      }).catch(() => {});
      throw err;
    }
    result.durationMs = Date.now() - started;
    return result;
  }

  function syncNow(): Promise<SyncRound> {
    const run = queue.catch(() => {}).then(round); // one round at a time, in call order
    queue = run;
    return run;
  }

  /** Local bookkeeping between rounds: fold and drop acknowledged outbox rows; hourly tombstone GC. */
  async function maintain(): Promise<void> {
    await pruneOutbox(ctx);
    if (Date.now() - lastGcAt > 3600_000) {
      lastGcAt = Date.now();
      await collectGarbage(ctx, gcHorizonMs);
    }
  }

  const scheduler = new SyncScheduler({
    run: async () => {
      await syncNow();
      await maintain().catch((err) =>
        opts.log?.warn("sync: maintenance failed", { err: (err as Error).message }),
      );
    },
    probe: () => transport.probe(),
    isNetworkError: (err) => err instanceof SyncTransportError && err.network,
    intervalMs: opts.intervalMs ?? 30_000,
    probeMs: opts.probeMs ?? 5_000,
    backoffBaseMs: opts.backoffBaseMs ?? 1_000,
    backoffMaxMs: opts.backoffMaxMs ?? 300_000,
    log: opts.log,
  });

  return {
    start: () => scheduler.start(),
    stop: async () => {
      scheduler.stop();
      await queue.catch(() => {});
    },
    syncNow,
    maintain,
    async status() {
      const up = await upstream(ctx.client);
      const pendingOutbox = await countOutbox(ctx.client);
      return {
        serverUrl: opts.serverUrl,
        siteId: ctx.siteId,
        online,
        pendingOutbox,
        lastPushAt: iso(up.lastPushAt),
        lastPullAt: iso(up.lastPullAt),
        lastSuccessAt: iso(lastSuccessAt),
        lastError,
        lag: {
          changes: deps.head === null ? null : Math.max(0, deps.head - up.pullCursor),
          ms: up.lastPullAt === null ? null : Date.now() - up.lastPullAt,
        },
        consecutiveFailures: scheduler.failures,
        nextAttemptAt: iso(scheduler.nextAt),
      };
    },
  };
}
