import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Database } from "../db.ts";
import { createLogger, type Logger } from "../log.ts";
import { insertJob } from "./local-sql.ts";
import { announceJobReady } from "./local-wake.ts";
import { startLocalWorker } from "./local-worker.ts";
import { atLeastOne, DEFAULT_BACKOFF_MS, DEFAULT_GRACE_MS, nonNegative, positive } from "./options.ts";
import type {
  DeadJob,
  EnqueueOptions,
  JobPayload,
  Queue,
  QueueCounts,
  QueueWorker,
  WorkerOptions,
} from "./types.ts";

export interface LocalQueueOptions {
  /** several logical queues can share the jobs table; default "default" */
  queue?: string;
  /** how long a claimed job stays invisible to other workers without a renewal; default 30 s */
  leaseMs?: number;
  /** how often an idle worker looks for jobs enqueued by other processes or falling due; default 200 ms */
  pollMs?: number;
  /** prefix of the worker ids written into `jobs.worker_id`; default host:pid:random */
  workerId?: string;
  /** the clock written into run_at / lease_until; tests move it */
  now?: () => number;
  /** where background failures (claim, renewal, completion writes) are reported */
  log?: Logger;
  /** how long `close()` lets running jobs finish when no grace is given; default 10 s */
  graceMs?: number;
}

/**
 * The durable queue of an edge node: jobs live in the `jobs` table of the node's libSQL
 * database, so they survive restarts. A worker claims jobs by writing a lease and renews
 * it every leaseMs/3; a job whose lease expired (its worker was killed, or stalled) is
 * claimable again, and counts as a used attempt. Delivery is at-least-once.
 *
 * @example
 *   const queue = createLocalQueue(database, { leaseMs: 30_000 });
 *   const worker = queue.process(async (job) => invoke(job.payload), { concurrency: 4 });
 *   await queue.enqueue(payload, { id: payload.invocationId, maxAttempts: 3 });
 */
export function createLocalQueue(database: Database, opts: LocalQueueOptions = {}): Queue {
  const client = database.client;
  const queue = opts.queue ?? "default";
  const leaseMs = positive("leaseMs", opts.leaseMs ?? 30_000);
  const pollMs = positive("pollMs", opts.pollMs ?? 200);
  const graceMs = nonNegative("graceMs", opts.graceMs ?? DEFAULT_GRACE_MS);
  const now = opts.now ?? Date.now;
  const log = opts.log ?? createLogger("warn", { component: "queue.local" });
  const workerIdBase = opts.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  const workers = new Set<QueueWorker>();
  let workerCount = 0;
  let closed = false;

  const assertOpen = () => {
    if (closed) throw new Error(`local queue "${queue}" is closed`);
  };

  return {
    kind: "local",

    async enqueue(payload: JobPayload, o: EnqueueOptions) {
      assertOpen();
      const t = now();
      const delayMs = nonNegative("delayMs", o.delayMs ?? 0);
      await insertJob(client, {
        id: o.id,
        queue,
        payload: JSON.stringify(payload),
        maxAttempts: atLeastOne("maxAttempts", o.maxAttempts),
        backoffMs: nonNegative("backoffMs", o.backoffMs ?? DEFAULT_BACKOFF_MS),
        runAt: t + delayMs,
        now: t,
      });
      announceJobReady(client, queue, delayMs);
    },

    async cancel(id) {
      const rs = await client.execute({
        sql: "DELETE FROM jobs WHERE id = ? AND queue = ? AND status = 'queued'",
        args: [id, queue],
      });
      return rs.rowsAffected > 0;
    },

    async redrive(id) {
      const t = now();
      const rs = await client.execute({
        sql: `UPDATE jobs SET status = 'queued', attempt = 0, run_at = ?, last_error = NULL, updated_at = ?
              WHERE id = ? AND queue = ? AND status = 'dead'`,
        args: [t, t, id, queue],
      });
      if (rs.rowsAffected === 0) return false;
      announceJobReady(client, queue);
      return true;
    },

    async listDead(limit = 100): Promise<DeadJob[]> {
      const rs = await client.execute({
        sql: `SELECT id, payload, attempt, last_error FROM jobs WHERE queue = ? AND status = 'dead'
              ORDER BY updated_at DESC LIMIT ?`,
        args: [queue, limit],
      });
      return rs.rows.map((r) => ({
        id: String(r.id),
        payload: JSON.parse(String(r.payload)) as JobPayload,
        attempts: Number(r.attempt),
        lastError: r.last_error == null ? null : String(r.last_error),
      }));
    },

    async counts(): Promise<QueueCounts> {
      const rs = await client.execute({
        sql: `SELECT
                COALESCE(SUM(status = 'queued' AND run_at <= :now), 0) AS waiting,
                COALESCE(SUM(status = 'queued' AND run_at > :now), 0) AS delayed,
                COALESCE(SUM(status = 'active'), 0) AS active,
                COALESCE(SUM(status = 'dead'), 0) AS dead
              FROM jobs WHERE queue = :queue`,
        args: { now: now(), queue },
      });
      const r = rs.rows[0];
      return {
        waiting: Number(r?.waiting ?? 0),
        active: Number(r?.active ?? 0),
        delayed: Number(r?.delayed ?? 0),
        dead: Number(r?.dead ?? 0),
      };
    },

    process(handler, wo: WorkerOptions = {}) {
      assertOpen();
      workerCount += 1;
      const worker = startLocalWorker(
        {
          client,
          queue,
          workerId: `${workerIdBase}#${workerCount}`,
          leaseMs,
          pollMs,
          concurrency: atLeastOne("concurrency", wo.concurrency ?? 1),
          defaultGraceMs: graceMs,
          now,
          log,
        },
        handler,
      );
      const tracked: QueueWorker = {
        async close(ms) {
          await worker.close(ms);
          workers.delete(tracked);
        },
      };
      workers.add(tracked);
      return tracked;
    },

    async ping() {
      await client.execute("SELECT 1");
    },

    async close() {
      closed = true;
      // The database belongs to the caller (the node shares it with everything else).
      await Promise.all([...workers].map((w) => w.close()));
    },
  };
}
