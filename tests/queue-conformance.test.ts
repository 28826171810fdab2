import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase } from "../runtime/db.ts";
import { applyMigrations } from "../runtime/migrate.ts";
import { createBullmqQueue } from "../runtime/queue/bullmq.ts";
import { createLocalQueue } from "../runtime/queue/local.ts";
import type { ActiveJob, Queue, QueueCounts, QueueWorker } from "../runtime/queue/types.ts";
import { gate, jobPayload, sleep, waitFor } from "./support/queue-helpers.ts";
import { deleteRedisKeys, ensureRedis } from "./support/redis.ts";

interface QueueFixture {
  queue: Queue;
  cleanup(): Promise<void>;
}

const EMPTY: QueueCounts = { waiting: 0, active: 0, delayed: 0, dead: 0 };

/**
 * The contract every queue backend keeps. Timing is asserted only as minimum gaps and
 * ordering; how fast a backend is belongs in bench/.
 */
export function describeQueueConformance(name: string, makeQueue: () => Promise<QueueFixture>): void {
  describe(`queue conformance: ${name}`, () => {
    let fixture: QueueFixture;
    let queue: Queue;
    const workers: QueueWorker[] = [];
    const work = (handler: (job: ActiveJob) => Promise<void>, concurrency = 1) => {
      const worker = queue.process(handler, { concurrency });
      workers.push(worker);
      return worker;
    };
    const enqueue = async (
      opts: { maxAttempts?: number; backoffMs?: number; delayMs?: number; input?: unknown } = {},
    ) => {
      const id = randomUUID();
      await queue.enqueue(jobPayload(id, opts.input ?? {}), {
        id,
        maxAttempts: opts.maxAttempts ?? 1,
        backoffMs: opts.backoffMs,
        delayMs: opts.delayMs,
      });
      return id;
    };
    const countsBecome = (expected: QueueCounts) =>
      waitFor(async () => JSON.stringify(await queue.counts()) === JSON.stringify(expected), {
        what: `counts ${JSON.stringify(expected)}`,
      });

    beforeEach(async () => {
      fixture = await makeQueue();
      queue = fixture.queue;
    });
    afterEach(async () => {
      await Promise.all(workers.splice(0).map((w) => w.close(0)));
      await fixture.cleanup();
    });

    it("answers ping", async () => {
      await expect(queue.ping()).resolves.toBeUndefined();
    });

    it("runs an enqueued job once, handing the handler its payload and attempt", async () => {
      const seen: ActiveJob[] = [];
      work(async (job) => {
        seen.push(job);
      });
      const id = await enqueue({ maxAttempts: 2, input: { hello: "world" } });
      await waitFor(() => seen.length === 1);
      expect(seen[0]).toMatchObject({
        id,
        attempt: 1,
        maxAttempts: 2,
        payload: jobPayload(id, { hello: "world" }),
      });
      expect(seen[0]!.signal.aborted).toBe(false);
      await countsBecome(EMPTY);
      expect(seen).toHaveLength(1);
    });

    it("retries a failing job, then dead-letters it with its attempt count and last error", async () => {
      const attempts: number[] = [];
      work(async (job) => {
        attempts.push(job.attempt);
        throw new Error(`boom ${job.attempt}`);
      });
      const id = await enqueue({ maxAttempts: 3, backoffMs: 20, input: { n: 1 } });
      await waitFor(async () => (await queue.listDead()).length === 1, { what: "a dead job" });
      expect(attempts).toEqual([1, 2, 3]);
      const [dead] = await queue.listDead();
      expect(dead).toMatchObject({ id, attempts: 3, payload: jobPayload(id, { n: 1 }) });
      expect(dead!.lastError).toContain("boom 3");
      expect(await queue.counts()).toEqual({ ...EMPTY, dead: 1 });
    });

    it("waits a jittered, growing backoff between attempts", async () => {
      const startedAt: number[] = [];
      work(async () => {
        startedAt.push(Date.now());
        throw new Error("again");
      });
      await enqueue({ maxAttempts: 3, backoffMs: 50 });
      await waitFor(() => startedAt.length === 3);
      // backoffDelay: attempt n waits between 50% and 100% of base * 2^(n-1)
      expect(startedAt[1]! - startedAt[0]!).toBeGreaterThanOrEqual(24);
      expect(startedAt[2]! - startedAt[1]!).toBeGreaterThanOrEqual(49);
    });

    it("ignores a second enqueue with the id of a job it still holds (waiting, delayed or retrying)", async () => {
      const id = await enqueue({ delayMs: 60_000 });
      await queue.enqueue(jobPayload(id, { again: true }), { id, maxAttempts: 1 });
      expect(await queue.counts()).toMatchObject({ delayed: 1, waiting: 0 });
      expect(await queue.cancel(id)).toBe(true); // the one job, cancelled: nothing left
      expect(await queue.counts()).toEqual(EMPTY);
    });

    it("does not run a delayed job before its time", async () => {
      let startedAt = 0;
      work(async () => {
        startedAt = Date.now();
      });
      const enqueuedAt = Date.now();
      await enqueue({ delayMs: 300 });
      expect(await queue.counts()).toMatchObject({ delayed: 1, waiting: 0 });
      await waitFor(() => startedAt > 0);
      expect(startedAt - enqueuedAt).toBeGreaterThanOrEqual(299);
    });

    it("cancels a job that has not started, but not a running one", async () => {
      const ran = new Set<string>();
      const queued = await enqueue();
      const delayed = await enqueue({ delayMs: 60_000 });
      expect(await queue.cancel(queued)).toBe(true);
      expect(await queue.cancel(queued)).toBe(false);
      expect(await queue.cancel(delayed)).toBe(true);
      expect(await queue.cancel(randomUUID())).toBe(false);

      const release = gate();
      work(async (job) => {
        ran.add(job.id);
        if (job.payload.input === "hold") await release.promise;
      });
      const running = await enqueue({ input: "hold" });
      await waitFor(() => ran.has(running));
      expect(await queue.cancel(running)).toBe(false);
      release.open();
      const marker = await enqueue();
      await waitFor(() => ran.has(marker));
      expect(ran.has(queued)).toBe(false);
      expect(ran.has(delayed)).toBe(false);
      await countsBecome(EMPTY);
      expect(await queue.cancel(running)).toBe(false); // finished
    });

    it("redrives a dead job: it runs again with a fresh attempt count", async () => {
      const runs: number[] = [];
      work(async (job) => {
        runs.push(job.attempt);
        if (runs.length === 1) throw new Error("first run fails");
      });
      const id = await enqueue({ maxAttempts: 1 });
      await waitFor(async () => (await queue.listDead()).length === 1, { what: "a dead job" });
      expect(await queue.redrive(randomUUID())).toBe(false);
      expect(await queue.redrive(id)).toBe(true);
      await waitFor(() => runs.length === 2);
      expect(runs).toEqual([1, 1]);
      await countsBecome(EMPTY);
      expect(await queue.listDead()).toEqual([]);
      expect(await queue.redrive(id)).toBe(false); // no longer dead (completed)
    });

    it("counts waiting, active, delayed and dead jobs", async () => {
      await enqueue();
      await enqueue();
      const delayed = await enqueue({ delayMs: 60_000 });
      expect(await queue.counts()).toEqual({ waiting: 2, active: 0, delayed: 1, dead: 0 });
      const release = gate();
      work(async () => {
        await release.promise;
      });
      await countsBecome({ waiting: 1, active: 1, delayed: 1, dead: 0 });
      release.open();
      await countsBecome({ waiting: 0, active: 0, delayed: 1, dead: 0 });
      expect(await queue.cancel(delayed)).toBe(true);
      expect(await queue.counts()).toEqual(EMPTY);
    });

    it("never runs more jobs at once than the worker's concurrency", async () => {
      let running = 0;
      let peak = 0;
      let done = 0;
      for (let i = 0; i < 12; i++) await enqueue();
      work(async () => {
        running += 1;
        peak = Math.max(peak, running);
        await sleep(30);
        running -= 1;
        done += 1;
      }, 3);
      await waitFor(() => done === 12);
      expect(peak).toBe(3);
    });

    it("close stops taking jobs and waits for the running ones", async () => {
      let started = 0;
      let finished = 0;
      const worker = work(async () => {
        started += 1;
        await sleep(200);
        finished += 1;
      });
      await enqueue();
      await waitFor(() => started === 1);
      await worker.close(5000);
      expect(finished).toBe(1);
      await countsBecome(EMPTY); // completed, not handed back
      await enqueue();
      await sleep(200);
      expect(started).toBe(1);
      expect(await queue.counts()).toEqual({ ...EMPTY, waiting: 1 });
    });

    it("close releases a job still running after the grace period: its signal aborts and another worker takes it", async () => {
      const first = { started: false, aborted: false };
      const stuck = work(async (job) => {
        first.started = true;
        job.signal.addEventListener("abort", () => {
          first.aborted = true;
        });
        await new Promise(() => {}); // ignores the signal: release must not depend on the handler
      });
      const id = await enqueue({ maxAttempts: 2 });
      await waitFor(() => first.started);
      await stuck.close(100);
      expect(first.aborted).toBe(true);
      const rerun: ActiveJob[] = [];
      work(async (job) => {
        rerun.push(job);
      });
      // well before any lease/lock (30 s by default) could have expired
      await waitFor(() => rerun.length === 1, { timeoutMs: 5000 });
      expect(rerun[0]).toMatchObject({ id, attempt: 1 });
      await countsBecome(EMPTY);
    });

    it("processes many jobs exactly once", async () => {
      const seen = new Map<string, number>();
      const ids = await Promise.all(Array.from({ length: 500 }, () => enqueue({ maxAttempts: 3 })));
      work(async (job) => {
        seen.set(job.id, (seen.get(job.id) ?? 0) + 1);
      }, 8);
      await waitFor(() => seen.size === ids.length, { timeoutMs: 20_000, what: "500 jobs" });
      await countsBecome(EMPTY);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      expect(new Set(ids)).toEqual(new Set(seen.keys()));
    });
  });
}

describeQueueConformance("local (libSQL)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sutazai-queue-"));
  const database = await openDatabase(join(dir, "node.db"));
  await applyMigrations(database);
  const queue = createLocalQueue(database, { pollMs: 20 });
  return {
    queue,
    async cleanup() {
      await queue.close();
      database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describeQueueConformance("bullmq (Redis)", async () => {
  const redisUrl = await ensureRedis();
  const prefix = "sutazai-test";
  const queueName = `conformance-${randomUUID()}`;
  const queue = createBullmqQueue({ redisUrl, queueName, prefix });
  return {
    queue,
    async cleanup() {
      await queue.close();
      await deleteRedisKeys(redisUrl, `${prefix}:${queueName}:*`);
    },
  };
});
