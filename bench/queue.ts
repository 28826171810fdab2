import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { Queue as BullQueue, Worker as BullWorker } from "bullmq";
import { Redis } from "ioredis";
import { builtinFunctions } from "../functions/index.ts";
import { SYSTEM_PRINCIPAL } from "../runtime/auth/principal.ts";
import { loadConfig } from "../runtime/config.ts";
import { openDatabase } from "../runtime/db.ts";
import { InvocationStore } from "../runtime/invocations/store.ts";
import { createLogger } from "../runtime/log.ts";
import { applyMigrations } from "../runtime/migrate.ts";
import { createNode, type NodeOptions } from "../runtime/node.ts";
import { createBullmqQueue } from "../runtime/queue/bullmq.ts";
import { createLocalQueue } from "../runtime/queue/local.ts";
import { tempDataDir } from "../tests/support/spawn-node.ts";

const JOBS = 10_000;
/** Enqueues in flight at once: many producers (HTTP requests, triggers), not one loop. */
const PRODUCERS = 50;
const TIMEOUT_MS = 300_000;

export interface QueueRun {
  jobsPerSec: number;
  /** CPU of this process plus Redis's, per job: robust against other load on the box */
  cpuUsPerJob: number;
}

/**
 * 10,000 no-op async invocations end-to-end (invoker.enqueue → queue → worker → row
 * `succeeded`) on the local queue and on BullMQ, plus raw BullMQ (addBulk + a no-op Worker)
 * with the same payloads, job options and concurrency. The clock runs from the first
 * enqueue to the last completion, with the worker running throughout, as in production.
 */
export async function runQueueBench(): Promise<Record<string, unknown>> {
  const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  const concurrency = loadConfig("server", {}, process.env).concurrency; // what our worker runs here
  const local = await endToEnd("local", redisUrl);
  const bullmq = await endToEnd("bullmq", redisUrl);
  const raw = await rawBullmq(redisUrl, concurrency, "bulk");
  // Not a goal: raw BullMQ fed like our path (one add per job, PRODUCERS in flight), to
  // separate what addBulk saves from what our invocation rows cost.
  const rawAdd = await rawBullmq(redisUrl, concurrency, "add");
  // Not a goal: raw BullMQ (one add per job) plus the invocation row's three durable writes
  // (queued, running, succeeded) through the node's own group-committed store and nothing
  // else: the least the issue asks of a queued invocation, so the ratio reachable at all.
  const floor = await rawBullmq(redisUrl, concurrency, "floor");
  return {
    bench: "queue",
    jobs: JOBS,
    local_jobs_per_s: local.jobsPerSec,
    bullmq_jobs_per_s: bullmq.jobsPerSec,
    raw_bullmq_jobs_per_s: raw.jobsPerSec,
    bullmq_ratio: Math.round((bullmq.jobsPerSec / raw.jobsPerSec) * 1000) / 1000,
    raw_bullmq_add_jobs_per_s: rawAdd.jobsPerSec,
    floor_jobs_per_s: floor.jobsPerSec,
    floor_ratio: Math.round((floor.jobsPerSec / raw.jobsPerSec) * 1000) / 1000,
    concurrency,
    cpu_us_per_job: {
      local: local.cpuUsPerJob,
      bullmq: bullmq.cpuUsPerJob,
      raw: raw.cpuUsPerJob,
      raw_add: rawAdd.cpuUsPerJob,
      floor: floor.cpuUsPerJob,
    },
  };
}

/** Our path: an in-process node (createNode, as deploy/* builds it) and its worker. */
export async function endToEnd(kind: "local" | "bullmq", redisUrl: string): Promise<QueueRun> {
  const dataDir = tempDataDir("sutazai-bench-queue-");
  const queueName = `bench-${randomBytes(4).toString("hex")}`;
  const prefix = `sutazai-bench-${randomBytes(4).toString("hex")}`;
  const config = loadConfig(
    kind === "local" ? "edge" : "server",
    { "data-dir": dataDir, queue: kind, "redis-url": redisUrl, "queue-name": queueName },
    { ...process.env, SUTAZAI_LOG_LEVEL: "warn" },
  );
  const log = createLogger("warn", { role: config.role });
  const queue: NodeOptions["queue"] =
    kind === "local"
      ? (database) => createLocalQueue(database, { log, queue: queueName })
      : () => createBullmqQueue({ redisUrl, queueName, prefix, log });
  // onFinished fires after the row's final write: counting there stops the clock exactly.
  let succeeded = 0;
  let other = 0;
  const finished = countdown(JOBS);
  const node = await createNode({
    config,
    log,
    functions: builtinFunctions,
    queue,
    onFinished: (e) => {
      if (e.status === "succeeded") succeeded++;
      else other++;
      finished.tick();
    },
  });
  const redis = kind === "bullmq" ? new Redis(redisUrl) : undefined;
  try {
    node.startWorker();
    const run = await timed(kind, redis, async () => {
      await produce(() =>
        node.platform.invoker.enqueue({
          function: "echo",
          input: {},
          principal: SYSTEM_PRINCIPAL,
          trigger: "queue",
        }),
      );
      return finished.done(() => `${kind}: ${succeeded}/${JOBS} succeeded`);
    });
    const rows = await node.platform.database.client.execute(
      "SELECT count(*) AS n FROM invocations WHERE status = 'succeeded'",
    );
    if (other > 0 || Number(rows.rows[0]?.n) !== JOBS) {
      throw new Error(`${kind}: ${rows.rows[0]?.n} rows succeeded, ${other} invocations did not`);
    }
    return run;
  } finally {
    await node.close();
    if (redis) {
      await deleteKeys(redis, prefix);
      await redis.quit();
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * BullMQ alone: the payloads and job options our bullmq queue uses, a processor that does
 * nothing. "floor": fed one add per job, each job's invocation row written queued before its
 * add, marked running and then succeeded by the processor (InvocationStore, as the node does).
 */
async function rawBullmq(
  redisUrl: string,
  concurrency: number,
  feed: "bulk" | "add" | "floor",
): Promise<QueueRun> {
  const prefix = `sutazai-bench-${randomBytes(4).toString("hex")}`;
  const dataDir = feed === "floor" ? tempDataDir("sutazai-bench-queue-floor-") : undefined;
  const database = dataDir ? await openDatabase(`${dataDir}/floor.db`) : undefined;
  if (database) await applyMigrations(database);
  const store = database ? new InvocationStore(database.db, database.client) : undefined;
  const redis = new Redis(redisUrl);
  const workerConnection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new BullQueue("raw", { connection: redis, prefix });
  const completed = countdown(JOBS);
  const processor = store
    ? async (job: { data: { invocationId: string } }) => {
        const startedAt = Date.now();
        await store.startRun(job.data.invocationId, 1, startedAt);
        await store.recordSucceeded(job.data.invocationId, "{}", Date.now(), Date.now() - startedAt);
      }
    : async () => {};
  const worker = new BullWorker("raw", processor, { connection: workerConnection, prefix, concurrency });
  worker.on("completed", () => completed.tick());
  const jobs = Array.from({ length: JOBS }, () => {
    const id = randomBytes(16).toString("hex");
    const data = {
      invocationId: id,
      function: "echo",
      input: {},
      principal: SYSTEM_PRINCIPAL,
      trigger: "queue",
    };
    const opts = {
      jobId: id,
      attempts: 1,
      backoff: { type: "fixed", delay: 1000 },
      removeOnComplete: true,
      removeOnFail: false,
    };
    return { name: "echo", data, opts };
  });
  try {
    return await timed(`raw bullmq (${feed})`, redis, async () => {
      if (feed === "bulk") await queue.addBulk(jobs);
      else
        await produce(async (i) => {
          const job = jobs[i]!;
          await store?.insert({
            id: job.data.invocationId,
            function: job.name,
            trigger: "queue",
            status: "queued",
            nodeId: "floor",
            input: "{}",
            queuedAt: Date.now(),
          });
          return queue.add(job.name, job.data, job.opts);
        });
      return completed.done(() => `raw bullmq: ${completed.count()}/${JOBS} completed`);
    });
  } finally {
    await worker.close();
    await queue.close();
    await workerConnection.quit();
    await deleteKeys(redis, prefix);
    await redis.quit();
    await store?.flush();
    database?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Runs `work` (which resolves when all jobs are done) and reports jobs/s and CPU per job. */
async function timed(label: string, redis: Redis | undefined, work: () => Promise<void>): Promise<QueueRun> {
  const cpu0 = await cpuMicros(redis);
  const t0 = performance.now();
  await work();
  const ms = performance.now() - t0;
  const run = {
    jobsPerSec: Math.round((JOBS * 1000) / ms),
    cpuUsPerJob: Math.round(((await cpuMicros(redis)) - cpu0) / JOBS),
  };
  process.stderr.write(`queue: ${label} ${JSON.stringify(run)} (${Math.round(ms)} ms)\n`);
  return run;
}

/** Calls `enqueue(i)` for every job, PRODUCERS at a time. */
async function produce(enqueue: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const producer = async () => {
    while (next < JOBS) await enqueue(next++);
  };
  await Promise.all(Array.from({ length: PRODUCERS }, producer));
}

function countdown(n: number) {
  let count = 0;
  let resolve!: () => void;
  const all = new Promise<void>((r) => {
    resolve = r;
  });
  return {
    tick: () => {
      if (++count === n) resolve();
    },
    count: () => count,
    /** resolves when all n ticked; rejects with `message()` after TIMEOUT_MS */
    async done(message: () => string): Promise<void> {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${message()} after ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
      });
      try {
        await Promise.race([all, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** This process's CPU time plus, with a client, the Redis server's (its work counts too). */
async function cpuMicros(redis?: Redis): Promise<number> {
  const { user, system } = process.cpuUsage();
  if (!redis) return user + system;
  const info = await redis.info("cpu");
  const seconds = (key: string) => Number(new RegExp(`^${key}:([\\d.]+)`, "m").exec(info)?.[1] ?? 0);
  return user + system + (seconds("used_cpu_user") + seconds("used_cpu_sys")) * 1e6;
}

/** Removes every key under `prefix` (unique per run, so nobody else's keys match). */
async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== "0");
}
