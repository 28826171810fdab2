import { Queue as BullQueue, Worker as BullWorker, type Job, WaitingError } from "bullmq";
import { Redis } from "ioredis";
import { createLogger, type Logger } from "../log.ts";
import { atLeastOne, DEFAULT_BACKOFF_MS, DEFAULT_GRACE_MS, nonNegative, positive } from "./options.ts";
import {
  backoffDelay,
  type DeadJob,
  type JobHandler,
  type JobPayload,
  type Queue,
  type QueueCounts,
  type QueueWorker,
  type WorkerOptions,
} from "./types.ts";

// The only module that imports bullmq/ioredis: the edge bundle must never pull them in.

export interface BullmqQueueOptions {
  redisUrl: string;
  /** default "invocations" */
  queueName?: string;
  /** Redis key prefix; default "sutazai" */
  prefix?: string;
  /** BullMQ's job lock (our lease): renewed every half of it; a killed worker's job runs again after it. Default 30 s */
  lockMs?: number;
  /** how long `close()` lets running jobs finish when no grace is given; default 10 s */
  graceMs?: number;
  log?: Logger;
}

// A named strategy (not BullMQ's built-in "exponential") so both backends share one
// backoff curve, backoffDelay, jitter included.
const BACKOFF_TYPE = "sutazai";
const PING_TIMEOUT_MS = 2000;

type BullJob = Job<JobPayload, void, string>;

interface Run {
  job: BullJob;
  token: string;
  controller: AbortController;
  /** settles the processor without touching Redis once the job was handed back */
  detach: () => void;
}

/**
 * The server's queue: BullMQ on Redis, shared by any number of worker processes on any
 * number of machines. A job is BullMQ's job with our payload as its data; "dead" is
 * BullMQ's failed set after the final attempt.
 */
export function createBullmqQueue(opts: BullmqQueueOptions): Queue {
  const name = opts.queueName ?? "invocations";
  const prefix = opts.prefix ?? "sutazai";
  const lockMs = positive("lockMs", opts.lockMs ?? 30_000);
  const defaultGraceMs = nonNegative("graceMs", opts.graceMs ?? DEFAULT_GRACE_MS);
  const log = opts.log ?? createLogger("warn", { component: "queue.bullmq" });
  // BullMQ 6's ESM build cannot load ioredis from plain options (it has no `require`), so
  // it is always handed a client; it leaves clients it was handed open, so we close them.
  const connection = new Redis(opts.redisUrl);
  const bull = new BullQueue<JobPayload, void, string>(name, { connection, prefix });
  bull.on("error", (err) => log.warn("queue: redis error", { queue: name, err }));
  const workers = new Set<QueueWorker>();
  let closed = false;

  const assertOpen = () => {
    if (closed) throw new Error(`bullmq queue "${name}" is closed`);
  };

  function startWorker(handler: JobHandler, wo: WorkerOptions = {}): QueueWorker {
    assertOpen();
    const concurrency = atLeastOne("concurrency", wo.concurrency ?? 1);
    // A worker blocks on its own connection, and BullMQ refuses blocking clients that
    // give up on commands (maxRetriesPerRequest must be null).
    const workerConnection = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
    const runs = new Map<string, Run>();

    const processor = async (job: BullJob, token?: string) => {
      const id = job.id ?? "";
      const controller = new AbortController();
      let detach!: () => void;
      const detached = new Promise<void>((resolve) => {
        detach = resolve;
      });
      const run: Run = { job, token: token ?? "", controller, detach };
      runs.set(id, run);
      try {
        const work = handler({
          id,
          payload: job.data,
          // attemptsMade counts failed attempts; a run lost to a crash is bounded by
          // BullMQ's maxStalledCount instead.
          attempt: job.attemptsMade + 1,
          maxAttempts: job.opts.attempts ?? 1,
          signal: controller.signal,
        });
        const outcome = await Promise.race([
          work.then(() => "done" as const),
          detached.then(() => "detached" as const),
        ]);
        if (outcome === "detached") {
          work.catch(() => {}); // finishes after shutdown; nobody is listening any more
          // BullMQ's "the processor moved this job itself" signal: it then leaves the job alone.
          throw new WaitingError();
        }
      } finally {
        // A run that lost its lock may outlive the next delivery of the same job.
        if (runs.get(id) === run) runs.delete(id);
      }
    };

    const worker = new BullWorker<JobPayload, void, string>(name, processor, {
      connection: workerConnection,
      prefix,
      concurrency,
      lockDuration: lockMs,
      settings: { backoffStrategy: jitteredBackoff },
    });
    worker.on("error", (err) => log.warn("queue: worker error", { queue: name, err }));
    worker.on("lockRenewalFailed", (jobIds) => {
      for (const id of jobIds) {
        runs
          .get(id)
          ?.controller.abort(new Error(`lost the lock of job ${id}: another worker may be running it`));
      }
    });

    let closing: Promise<void> | undefined;
    const handle: QueueWorker = {
      close(graceMs = defaultGraceMs) {
        closing ??= (async () => {
          // close() stops fetching at once, then waits for the running jobs.
          const finished = worker.close();
          if (!(await settlesWithin(finished, graceMs))) {
            const unfinished = [...runs.values()];
            for (const run of unfinished) {
              run.controller.abort(new Error("the worker is shutting down; the job goes back to the queue"));
            }
            // Back to wait now rather than after the lock expires, so another worker takes them at once.
            const released = await Promise.allSettled(unfinished.map((run) => run.job.moveToWait(run.token)));
            for (const r of released) {
              if (r.status === "rejected")
                log.warn("queue: releasing a job failed", { queue: name, err: r.reason });
            }
            for (const run of unfinished) run.detach();
            await finished;
          }
          await workerConnection.quit().catch(() => workerConnection.disconnect());
          workers.delete(handle);
        })();
        return closing;
      },
    };
    workers.add(handle);
    return handle;
  }

  return {
    kind: "bullmq",

    async enqueue(payload, o) {
      assertOpen();
      const delayMs = nonNegative("delayMs", o.delayMs ?? 0);
      // An existing id is not added again (BullMQ keeps the first), like the local queue.
      await bull.add(payload.function, payload, {
        jobId: o.id,
        attempts: atLeastOne("maxAttempts", o.maxAttempts),
        backoff: { type: BACKOFF_TYPE, delay: nonNegative("backoffMs", o.backoffMs ?? DEFAULT_BACKOFF_MS) },
        delay: delayMs,
        // Completed jobs live on in the invocation row; failed ones are the dead-letter.
        removeOnComplete: true,
        removeOnFail: false,
      });
    },

    async cancel(id) {
      const state = await bull.getJobState(id);
      if (state !== "waiting" && state !== "delayed" && state !== "prioritized") return false;
      // remove() refuses a job that a worker locked in the meantime.
      return (await bull.remove(id)) === 1;
    },

    async redrive(id) {
      const job = await bull.getJob(id);
      if (!job || (await job.getState()) !== "failed") return false;
      try {
        await job.retry("failed", { resetAttemptsMade: true, resetAttemptsStarted: true });
        return true;
      } catch (err) {
        // Someone else redrove or removed it between the two calls.
        if ((await bull.getJobState(id)) !== "failed") return false;
        throw err;
      }
    },

    async listDead(limit = 100): Promise<DeadJob[]> {
      const jobs = await bull.getFailed(0, Math.max(0, limit - 1));
      return jobs.map((job) => ({
        id: job.id ?? "",
        payload: job.data,
        attempts: job.attemptsMade,
        lastError: job.failedReason || null,
      }));
    },

    async counts(): Promise<QueueCounts> {
      // BullMQ 6 has no separate paused list: a paused queue's jobs stay in "wait".
      const c = await bull.getJobCounts("wait", "prioritized", "active", "delayed", "failed");
      return {
        waiting: (c.wait ?? 0) + (c.prioritized ?? 0),
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        dead: c.failed ?? 0,
      };
    },

    process: startWorker,

    async ping() {
      // A client that is reconnecting would hold the PING until Redis is back; readiness must not wait.
      if (!(await settlesWithin(connection.ping(), PING_TIMEOUT_MS))) {
        throw new Error(`Redis did not answer PING within ${PING_TIMEOUT_MS} ms`);
      }
    },

    async close() {
      closed = true;
      await Promise.all([...workers].map((w) => w.close()));
      await bull.close();
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}

function jitteredBackoff(
  attemptsMade: number,
  type?: string,
  _err?: Error,
  job?: { opts: Job["opts"] },
): number {
  const backoff = job?.opts.backoff;
  const base =
    typeof backoff === "object" ? (backoff.delay ?? DEFAULT_BACKOFF_MS) : (backoff ?? DEFAULT_BACKOFF_MS);
  if (type !== BACKOFF_TYPE) return base;
  return backoffDelay(base, attemptsMade);
}

/** true when `promise` resolves within `ms`; a rejection is thrown. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
