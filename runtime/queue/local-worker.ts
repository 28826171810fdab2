import type { Client } from "@libsql/client";
import type { Logger } from "../log.ts";
import { createCompletionBatcher } from "./local-acks.ts";
import {
  buryLostRun,
  type ClaimedRow,
  claimJobs,
  failRun,
  type RunKey,
  releaseRuns,
  renewLeases,
} from "./local-sql.ts";
import { announceJobReady, createDoorbell, onJobReady } from "./local-wake.ts";
import { backoffDelay, type JobHandler, type JobPayload, type QueueWorker } from "./types.ts";

export interface LocalWorkerConfig {
  client: Client;
  queue: string;
  /** unique per worker: leases, renewals and completions are all keyed by it */
  workerId: string;
  leaseMs: number;
  pollMs: number;
  concurrency: number;
  defaultGraceMs: number;
  now: () => number;
  log: Logger;
}

interface Run extends RunKey {
  controller: AbortController;
  /** the handler has returned or thrown */
  settled: boolean;
  /** no longer ours (released at shutdown, or the lease went to another worker): its outcome is dropped */
  detached: boolean;
}

const MAX_ERROR_LENGTH = 2000;

/** Runs `handler` over the jobs of one queue until closed. See createLocalQueue for the guarantees. */
export function startLocalWorker(cfg: LocalWorkerConfig, handler: JobHandler): QueueWorker {
  const { client, queue, workerId, log } = cfg;
  const runs = new Map<string, Run>(); // handlers still running: what the concurrency limit counts
  const tails = new Set<Promise<void>>(); // each run up to and including the write of its outcome
  const writes = new Set<Promise<void>>();
  const completions = createCompletionBatcher({ client, workerId, queue, retryMs: cfg.pollMs, log });
  const doorbell = createDoorbell();
  const wake = doorbell.ring;
  let stopping = false;
  let renewing = false;
  let closing: Promise<void> | undefined;

  const unsubscribe = onJobReady(client, queue, wake);
  const heartbeat = setInterval(() => void renew(), Math.max(1, Math.floor(cfg.leaseMs / 3)));
  const loopDone = loop();

  async function loop(): Promise<void> {
    while (!stopping) {
      const free = cfg.concurrency - runs.size;
      let mayHaveMore = false;
      if (free > 0) {
        let rows: ClaimedRow[] = [];
        try {
          rows = await claimJobs(client, {
            queue,
            workerId,
            now: cfg.now(),
            leaseMs: cfg.leaseMs,
            limit: free,
          });
        } catch (err) {
          if (isClientClosed(err)) {
            // Retrying cannot help and would log every poll: stop as if closed.
            log.error("queue: the database was closed under a running worker; it stops", { queue });
            void close(0);
            break;
          }
          log.warn("queue: claiming jobs failed; retrying", { queue, err });
        }
        if (stopping) {
          await release(rows);
          break;
        }
        for (const row of rows) start(row);
        mayHaveMore = rows.length === free;
      }
      if (!mayHaveMore) await doorbell.wait(cfg.pollMs);
    }
  }

  function start(row: ClaimedRow): void {
    if (row.attempt > row.maxAttempts) {
      track(buryLostRun(client, { id: row.id, attempt: row.attempt, workerId, now: cfg.now() }));
      return;
    }
    const run: Run = {
      id: row.id,
      attempt: row.attempt,
      controller: new AbortController(),
      settled: false,
      detached: false,
    };
    runs.set(keyString(run), run);
    const tail: Promise<void> = execute(run, row).finally(() => tails.delete(tail));
    tails.add(tail);
  }

  async function execute(run: Run, row: ClaimedRow): Promise<void> {
    let failure: unknown;
    let ok = false;
    try {
      const payload = JSON.parse(row.payload) as JobPayload;
      await handler({
        id: run.id,
        payload,
        attempt: run.attempt,
        maxAttempts: row.maxAttempts,
        signal: run.controller.signal,
      });
      ok = true;
    } catch (err) {
      failure = err;
    }
    run.settled = true;
    runs.delete(keyString(run));
    wake();
    if (run.detached) return;
    if (ok) {
      completions.add(run);
      return;
    }
    const now = cfg.now();
    const dead = run.attempt >= row.maxAttempts;
    const delay = dead ? 0 : backoffDelay(row.backoffMs, run.attempt);
    try {
      await failRun(client, {
        ...toRunKey(run),
        workerId,
        dead,
        runAt: now + delay,
        error: describe(failure),
        now,
      });
      if (!dead) announceJobReady(client, queue, delay);
    } catch (err) {
      log.warn("queue: recording a failed attempt failed; the job runs again when its lease expires", {
        queue,
        jobId: run.id,
        err,
      });
    }
  }

  async function renew(): Promise<void> {
    if (renewing || runs.size === 0) return;
    renewing = true;
    // Only runs claimed before this renewal can be judged by its result.
    const snapshot = [...runs.values()];
    try {
      const held = new Set(
        (await renewLeases(client, { workerId, now: cfg.now(), leaseMs: cfg.leaseMs })).map(keyString),
      );
      for (const run of snapshot) {
        if (run.settled || run.detached || held.has(keyString(run))) continue;
        run.detached = true;
        run.controller.abort(new Error(`lost the lease of job ${run.id}: another worker may be running it`));
        log.warn("queue: lost the lease of a running job", { queue, jobId: run.id, attempt: run.attempt });
      }
    } catch (err) {
      log.warn("queue: renewing leases failed", { queue, err });
    } finally {
      renewing = false;
    }
  }

  async function release(rows: RunKey[]): Promise<void> {
    if (rows.length === 0) return;
    try {
      await releaseRuns(client, workerId, rows.map(toRunKey), cfg.now());
      announceJobReady(client, queue);
    } catch (err) {
      log.warn("queue: releasing jobs failed; they run again when their leases expire", { queue, err });
    }
  }

  function track(write: Promise<void>): Promise<void> {
    const tracked: Promise<void> = write
      .catch((err) => log.warn("queue: write failed", { queue, err }))
      .finally(() => writes.delete(tracked));
    writes.add(tracked);
    return tracked;
  }

  function close(graceMs = cfg.defaultGraceMs): Promise<void> {
    closing ??= (async () => {
      stopping = true;
      unsubscribe();
      wake();
      await loopDone;
      await settledWithin([...tails], graceMs);
      const unfinished = [...runs.values()].filter((run) => !run.detached);
      for (const run of unfinished) {
        run.detached = true;
        run.controller.abort(new Error("the worker is shutting down; the job goes back to the queue"));
      }
      clearInterval(heartbeat);
      await release(unfinished);
      await completions.drain();
      await Promise.allSettled([...writes]);
    })();
    return closing;
  }

  return { close };
}

function keyString(run: RunKey): string {
  return `${run.id}#${run.attempt}`;
}

function toRunKey(run: RunKey): RunKey {
  return { id: run.id, attempt: run.attempt };
}

function describe(err: unknown): string {
  const text = err instanceof Error ? err.message || err.name : String(err);
  return text.slice(0, MAX_ERROR_LENGTH);
}

async function settledWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled(promises),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

function isClientClosed(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === "CLIENT_CLOSED";
}
