import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../runtime/db.ts";
import { freePort } from "./support/free-port.ts";
import { ensureRedis } from "./support/redis.ts";
import {
  killAllSpawned,
  type NodeProcess,
  removeTempDirs,
  runCli,
  startNodeProcess,
  startPrivateRedis,
  tempDataDir,
  waitForLogLine,
} from "./support/spawn-node.ts";

afterAll(async () => {
  await killAllSpawned();
  removeTempDirs();
});

async function invocationStatus(dataDir: string, id: string): Promise<string | undefined> {
  const database = await openDatabase(join(dataDir, "sutazai.db"));
  try {
    const rs = await database.client.execute({
      sql: "SELECT status FROM invocations WHERE id = ?",
      args: [id],
    });
    return rs.rows[0]?.status as string | undefined;
  } finally {
    database.close();
  }
}

describe("sutazai edge", () => {
  let edge: NodeProcess;
  beforeAll(async () => {
    edge = await startNodeProcess("edge");
  });
  afterAll(async () => {
    await edge?.stop();
  });

  it("logs where it listens, without secrets", () => {
    const line = edge.logLines().find((l) => l.msg === "listening")!;
    expect(line).toMatchObject({ url: edge.url, role: "edge", dataDir: edge.dataDir, queue: "local" });
    expect(typeof line.node).toBe("string");
  });

  it("answers /healthz and /readyz with the db and queue checks ok", async () => {
    const health = await fetch(`${edge.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const ready = await fetch(`${edge.url}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { status: string; checks: Record<string, { status: string }> };
    expect(body.status).toBe("ready");
    expect(body.checks.db?.status).toBe("ok");
    expect(body.checks.queue?.status).toBe("ok");
  });

  it("`invoke echo` prints the function's output", async () => {
    const run = await runCli([
      "invoke",
      "echo",
      "--data",
      '{"message":"hi"}',
      "--url",
      edge.url,
      "--key",
      edge.adminKey,
    ]);
    expect(run.stderr).toBe("");
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ message: "hi" });
  });

  it("`invoke --async` prints the id, follows the status and ends with succeeded", async () => {
    const file = join(edge.dataDir, "input.json");
    writeFileSync(file, '{"message":"later"}');
    const run = await runCli(["invoke", "echo", "--data", `@${file}`, "--async"], {
      env: { SUTAZAI_URL: edge.url, SUTAZAI_API_KEY: edge.adminKey },
    });
    expect(run.code, run.stderr).toBe(0);
    const [id, ...rest] = run.stdout.split("\n");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(rest.join("\n"))).toMatchObject({ message: "later" });
    expect(run.stderr.trim().split("\n").at(-1)).toMatch(/^succeeded/);
    expect(await invocationStatus(edge.dataDir, id!)).toBe("succeeded");
  });

  it("`invoke --async --no-wait` prints only the id", async () => {
    const run = await runCli(["invoke", "echo", "--async", "--no-wait", "--url", edge.url], {
      env: { SUTAZAI_API_KEY: edge.adminKey },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^[0-9a-f-]{36}\n$/);
  });

  it("`invoke` exits 1 with the problem's detail when the input is invalid", async () => {
    const run = await runCli(["invoke", "echo", "--data", '{"message":5}', "--url", edge.url], {
      env: { SUTAZAI_API_KEY: edge.adminKey },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("INPUT_INVALID");
    expect(run.stderr).toContain("message:");
  });

  it("refuses a second node on the same port with a message naming the fix", async () => {
    const run = await runCli(["edge", "--port", String(edge.port), "--data-dir", tempDataDir()]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("already in use");
    expect(run.stderr).toContain("--port");
  });
});

/** A sync echo call; the Idempotency-Key makes the node write a "running" row as it starts. */
function slowEcho(node: NodeProcess, input: unknown): Promise<Response> {
  return node.request("/v1/functions/echo/invoke", {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": `slow-${Math.random()}` },
    body: JSON.stringify(input),
  });
}

async function statusOf(node: NodeProcess, id: string): Promise<string> {
  return ((await (await node.request(`/v1/invocations/${id}`)).json()) as { status: string }).status;
}

/** Waits until the node reports an echo invocation running, so a signal lands mid-request. */
async function untilRunning(node: NodeProcess): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const res = await node.request("/v1/invocations?function=echo&status=running");
    const body = (await res.json()) as { invocations: unknown[] };
    if (body.invocations.length > 0) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("no echo invocation started running");
}

describe("graceful shutdown", () => {
  it("on SIGTERM finishes the in-flight request, refuses new connections, exits 0 with the invocation recorded", async () => {
    const edge = await startNodeProcess("edge");
    const inFlight = slowEcho(edge, { message: "slow", delayMs: 1500 });
    await untilRunning(edge);
    edge.child.kill("SIGTERM");
    await waitForLogLine(edge, (l) => l.msg === "shutting down");
    await expect(fetch(`${edge.url}/healthz`)).rejects.toThrow();

    const res = await inFlight;
    expect(res.status).toBe(200);
    const body = (await res.json()) as { id: string; status: string; output: { message: string } };
    expect(body).toMatchObject({ status: "succeeded", output: { message: "slow" } });

    expect(await edge.exited).toEqual({ code: 0, signal: null });
    expect(await invocationStatus(edge.dataDir, body.id)).toBe("succeeded");
  });

  it("a second signal exits at once", async () => {
    const edge = await startNodeProcess("edge", { env: { SUTAZAI_SHUTDOWN_GRACE_MS: "30000" } });
    const inFlight = slowEcho(edge, { delayMs: 20_000 }).catch((err: Error) => err);
    await untilRunning(edge);
    edge.child.kill("SIGTERM");
    await waitForLogLine(edge, (l) => l.msg === "shutting down");
    edge.child.kill("SIGTERM");
    expect((await edge.exited).code).toBe(143);
    expect(await inFlight).toBeInstanceOf(Error);
  });
});

describe("sutazai server + separate sutazai worker", () => {
  let redis: { url: string; stop(): Promise<void> } | undefined;
  let redisUrl: string;
  beforeAll(async () => {
    // A private redis-server keeps this test's jobs away from other users of a shared Redis,
    // as long as the queue name is not configurable; REDIS_URL still wins when set.
    redis = process.env.REDIS_URL ? undefined : await startPrivateRedis();
    redisUrl = redis?.url ?? (await ensureRedis());
  });
  afterAll(async () => {
    await redis?.stop();
  });

  for (const queue of ["bullmq", "local"] as const) {
    it(`${queue} queue: an async invocation waits for a worker, and the worker runs it to succeeded`, async () => {
      const dataDir = tempDataDir();
      const flags = ["--queue", queue, "--redis-url", redisUrl];
      const server = await startNodeProcess("server", {
        dataDir,
        args: [...flags, "--inline-worker", "false"],
      });
      let worker: NodeProcess | undefined;
      try {
        expect(server.logLines().find((l) => l.msg === "listening")).toMatchObject({
          queue,
          inlineWorker: false,
        });
        const key = { env: { SUTAZAI_API_KEY: server.adminKey } };
        const queued = await runCli(
          [
            "invoke",
            "echo",
            "--data",
            '{"message":"from the worker"}',
            "--async",
            "--no-wait",
            "--url",
            server.url,
          ],
          key,
        );
        expect(queued.code, queued.stderr).toBe(0);
        const id = queued.stdout.trim();
        // Nothing in the server runs jobs, so it can only be queued.
        expect(await statusOf(server, id)).toBe("queued");

        worker = await startNodeProcess("worker", { dataDir, args: [...flags, "--concurrency", "2"] });
        const waited = await runCli(
          ["invoke", "echo", "--data", '{"message":"second"}', "--async", "--url", server.url],
          key,
        );
        expect(waited.code, `${waited.stderr}\nworker:\n${worker.stderr()}`).toBe(0);
        expect(waited.stderr).toMatch(/succeeded/);

        let status = await statusOf(server, id);
        for (let i = 0; i < 150 && status !== "succeeded"; i++) {
          await new Promise((r) => setTimeout(r, 100));
          status = await statusOf(server, id);
        }
        expect(status, `worker:\n${worker.stderr()}`).toBe("succeeded");
      } finally {
        const exits = await Promise.all([server.stop(), worker?.stop()]);
        expect(exits[0], server.stderr()).toEqual({ code: 0, signal: null });
        if (worker) expect(exits[1], worker.stderr()).toEqual({ code: 0, signal: null });
      }
    }, 60_000);
  }

  it("fails fast with a clear message when Redis cannot be reached", async () => {
    const port = await freePort();
    const run = await runCli([
      "server",
      "--data-dir",
      tempDataDir(),
      "--redis-url",
      `redis://127.0.0.1:${port}`,
      "--port",
      String(await freePort()),
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`Cannot reach Redis at redis://127.0.0.1:${port}`);
    expect(run.stderr).toContain("REDIS_URL");
  });
});
