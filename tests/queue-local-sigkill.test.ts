import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Database, openDatabase } from "../runtime/db.ts";
import { silentLogger } from "../runtime/log.ts";
import { applyMigrations } from "../runtime/migrate.ts";
import { createLocalQueue } from "../runtime/queue/local.ts";
import type { ActiveJob, Queue, QueueWorker } from "../runtime/queue/types.ts";
import { gate, jobPayload, sleep, waitFor } from "./support/queue-helpers.ts";

const WORKER_SCRIPT = fileURLToPath(new URL("./support/local-queue-worker.ts", import.meta.url));
const LEASE_MS = 500;
const EMPTY = { waiting: 0, active: 0, delayed: 0, dead: 0 };

describe("local queue leases", () => {
  let dir: string;
  let dbPath: string;
  let database: Database;
  let child: ChildProcess | undefined;
  const queues: Queue[] = [];
  const workers: QueueWorker[] = [];

  const leaseUntil = async (id: string) =>
    Number(
      (await database.client.execute({ sql: "SELECT lease_until FROM jobs WHERE id = ?", args: [id] }))
        .rows[0]?.lease_until,
    );

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "sutazai-sigkill-"));
    dbPath = join(dir, "node.db");
    database = await openDatabase(dbPath);
    await applyMigrations(database);
  });

  afterEach(async () => {
    child?.kill("SIGKILL");
    child = undefined;
    await Promise.all(workers.splice(0).map((w) => w.close(0)));
    await Promise.all(queues.splice(0).map((q) => q.close()));
    database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const localQueue = (opts: Parameters<typeof createLocalQueue>[1]) => {
    const queue = createLocalQueue(database, opts);
    queues.push(queue);
    return queue;
  };

  it("runs a job again, once, after the worker holding it was SIGKILLed and its lease expired", async () => {
    const queue = localQueue({ leaseMs: LEASE_MS, pollMs: 20 });
    const id = randomUUID();
    await queue.enqueue(jobPayload(id), { id, maxAttempts: 3 });

    child = spawn(process.execPath, ["--import", "tsx", WORKER_SCRIPT, dbPath, dir, String(LEASE_MS)], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    const exited = new Promise((resolve) => child!.once("exit", resolve));
    await waitFor(() => existsSync(join(dir, `started-${id}-1`)), {
      timeoutMs: 20_000,
      what: "the child to take the job",
    });
    // The child keeps renewing while it hangs: the lease outlives several lease lengths.
    await sleep(LEASE_MS * 2);
    expect(await queue.counts()).toEqual({ ...EMPTY, active: 1 });

    const heldUntil = await leaseUntil(id);
    child.kill("SIGKILL");
    await exited;

    const runs: { job: ActiveJob; at: number }[] = [];
    workers.push(queue.process(async (job) => void runs.push({ job, at: Date.now() })));
    await waitFor(() => runs.length === 1, { timeoutMs: 10_000, what: "the job to run again" });
    expect(runs[0]!.job).toMatchObject({ id, attempt: 2, maxAttempts: 3 });
    expect(runs[0]!.at).toBeGreaterThanOrEqual(heldUntil); // not before the dead worker's lease ran out

    await waitFor(async () => JSON.stringify(await queue.counts()) === JSON.stringify(EMPTY), {
      what: "completion",
    });
    await sleep(LEASE_MS * 2);
    expect(runs).toHaveLength(1);
    expect(existsSync(join(dir, `started-${id}-2`))).toBe(false);
  });

  it("dead-letters a job whose worker dies on its final attempt instead of running it again", async () => {
    const queue = localQueue({ leaseMs: LEASE_MS, pollMs: 20 });
    const id = randomUUID();
    await queue.enqueue(jobPayload(id), { id, maxAttempts: 1 });
    child = spawn(process.execPath, ["--import", "tsx", WORKER_SCRIPT, dbPath, dir, String(LEASE_MS)], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    const exited = new Promise((resolve) => child!.once("exit", resolve));
    await waitFor(() => existsSync(join(dir, `started-${id}-1`)), {
      timeoutMs: 20_000,
      what: "the child to take the job",
    });
    child.kill("SIGKILL");
    await exited;

    let ran = 0;
    workers.push(queue.process(async () => void ran++));
    await waitFor(async () => (await queue.listDead()).length === 1, {
      timeoutMs: 10_000,
      what: "a dead job",
    });
    expect(ran).toBe(0);
    const [dead] = await queue.listDead();
    expect(dead).toMatchObject({ id, attempts: 1 });
    expect(dead!.lastError).toMatch(/lease expired/);
  });

  it("keeps renewing the lease of a long job, so no other worker takes it", async () => {
    const runs: string[] = [];
    const first = localQueue({ leaseMs: 150, pollMs: 20, workerId: "first" });
    const second = localQueue({ leaseMs: 150, pollMs: 20, workerId: "second" });
    const id = randomUUID();
    workers.push(
      first.process(async (job) => {
        runs.push(`first:${job.attempt}`);
        await sleep(800);
      }),
    );
    await first.enqueue(jobPayload(id), { id, maxAttempts: 3 });
    await waitFor(() => runs.length === 1);
    workers.push(second.process(async (job) => void runs.push(`second:${job.attempt}`)));
    await waitFor(async () => JSON.stringify(await first.counts()) === JSON.stringify(EMPTY), {
      what: "completion",
    });
    expect(runs).toEqual(["first:1"]);
  });

  it("a worker that lost its lease neither clobbers the new owner nor re-queues the job", async () => {
    // A clock 10 s behind makes every lease this worker writes already expired for the others.
    const late = localQueue({
      leaseMs: 300,
      pollMs: 20,
      workerId: "late",
      now: () => Date.now() - 10_000,
      log: silentLogger, // it is expected to warn that it lost the lease
    });
    const current = localQueue({ leaseMs: 300, pollMs: 20, workerId: "current" });
    const id = randomUUID();
    const lateRun = { started: false, aborted: false };
    const runs: number[] = [];
    const finishCurrent = gate();

    workers.push(
      late.process(async (job) => {
        lateRun.started = true;
        await new Promise((resolve) => job.signal.addEventListener("abort", resolve));
        lateRun.aborted = true;
        throw new Error("late failure after losing the lease");
      }),
    );
    await late.enqueue(jobPayload(id), { id, maxAttempts: 3 });
    await waitFor(() => lateRun.started);

    let currentSignal: AbortSignal | undefined;
    workers.push(
      current.process(async (job) => {
        runs.push(job.attempt);
        currentSignal = job.signal;
        await finishCurrent.promise;
      }),
    );
    await waitFor(() => runs.length === 1 && lateRun.aborted, { what: "the takeover" });
    expect(runs).toEqual([2]);
    // the late worker's failure must not have put the job back in line or killed it
    const row = (
      await database.client.execute({
        sql: "SELECT status, worker_id, attempt FROM jobs WHERE id = ?",
        args: [id],
      })
    ).rows[0];
    expect(row).toMatchObject({
      status: "active",
      worker_id: expect.stringMatching(/^current#/),
      attempt: 2,
    });

    finishCurrent.open();
    await waitFor(async () => JSON.stringify(await current.counts()) === JSON.stringify(EMPTY), {
      what: "completion",
    });
    await sleep(300);
    expect(runs).toEqual([2]);
    expect(currentSignal?.aborted).toBe(false);
    expect(await current.listDead()).toEqual([]);
  });
});
