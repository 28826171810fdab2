import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleIsFresh, freshBundle, ROOT } from "../cli/build.js";
import { freePort } from "./support/free-port.ts";
import {
  killAllSpawned,
  REPO_ROOT,
  removeTempDirs,
  spawnNode,
  stopProcess,
  tempDataDir,
  testAdminKey,
  waitForLogLine,
} from "./support/spawn-node.ts";

// What `npm start` and the installed `sutazai` run: the esbuild bundle of cli/entry.ts in dist/
// (built by `prepare` at npm install / npm ci), started through cli/bin.js.
const BIN = join(REPO_ROOT, "cli", "bin.js");
const ENTRY = join(REPO_ROOT, "dist", "sutazai.cjs");
const codeCache = () => freshBundle()!.codeCache!;
const cached = () => existsSync(codeCache()) && statSync(codeCache()).size > 100_000;
const run = promisify(execFile);

afterAll(async () => {
  await killAllSpawned();
  removeTempDirs();
});

describe("the bundle in dist/", () => {
  beforeAll(async () => {
    await run(process.execPath, [join(REPO_ROOT, "cli", "build.js"), "--if-stale"], { cwd: REPO_ROOT });
  }, 120_000);

  it("starts an edge node that migrates its database and answers the probes, docs and API", async () => {
    const dataDir = tempDataDir();
    const port = await freePort();
    const adminKey = testAdminKey();
    const proc = spawnNode([ENTRY, "edge", "--port", String(port), "--data-dir", dataDir], {
      env: { SUTAZAI_LOG_LEVEL: "info", SUTAZAI_ADMIN_KEY: adminKey, SUTAZAI_SHUTDOWN_GRACE_MS: "5000" },
    });
    try {
      await waitForLogLine(proc, (l) => l.msg === "listening");
      const url = `http://127.0.0.1:${port}`;
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(200);
      expect(((await ready.json()) as { checks: { db: { status: string } } }).checks.db.status).toBe("ok");
      expect(await (await fetch(`${url}/docs`)).text()).toContain("<title>SutazAI API</title>");
      const spec = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
      expect(spec.paths).toHaveProperty("/v1/functions/{name}/invoke");
      // The migrated tables work: a synchronous invocation is stored and read back.
      const auth = { authorization: `Bearer ${adminKey}`, "content-type": "application/json" };
      const invoked = await fetch(`${url}/v1/functions/echo/invoke`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ message: "from the bundle" }),
      });
      expect(invoked.status).toBe(200);
      const { id } = (await invoked.json()) as { id: string };
      expect((await fetch(`${url}/v1/invocations/${id}`, { headers: auth })).status).toBe(200);
    } finally {
      expect(await stopProcess(proc)).toEqual({ code: 0, signal: null });
    }

    // Every migration under schema/migrations was found from dist/ and applied.
    const journal = JSON.parse(
      readFileSync(join(REPO_ROOT, "schema", "migrations", "meta", "_journal.json"), "utf8"),
    ) as { entries: Array<{ tag: string }> };
    const migrate = spawnNode([BIN, "migrate", "--data-dir", dataDir]);
    expect((await migrate.exited).code).toBe(0);
    expect(migrate.stdout()).toContain(
      `is up to date: schema version ${journal.entries.at(-1)!.tag} (${journal.entries.length} migrations applied)`,
    );
  });

  it("reads package.json relative to the sources: bin.js --version", async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
    const proc = spawnNode([BIN, "--version"]);
    expect((await proc.exited).code).toBe(0);
    expect(proc.stdout().trim()).toBe(pkg.version);
  });

  it("keeps optional and server-only packages out of an edge start, loaded from node_modules", async () => {
    const code = readFileSync(ENTRY, "utf8");
    // Optional packages load on first use (runtime/optional-package.ts), never at start.
    expect(code).toContain('importPackage("node-llama-cpp")');
    expect(code).toContain('importPackage("ollama")');
    expect(code).not.toMatch(/require\("(node-llama-cpp|ollama)"\)/);
    expect(code).toContain('require("bullmq")');
    // ...but an edge start never requires bullmq or ioredis: NODE_DEBUG=module names every
    // package a process looks up.
    const dataDir = tempDataDir();
    const port = await freePort();
    const proc = spawnNode([BIN, "edge", "--port", String(port), "--data-dir", dataDir], {
      env: { SUTAZAI_LOG_LEVEL: "info", SUTAZAI_ADMIN_KEY: testAdminKey(), NODE_DEBUG: "module" },
    });
    try {
      await waitForLogLine(proc, (l) => l.msg === "listening");
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      await stopProcess(proc);
    }
    expect(proc.stderr()).toContain('"libsql"'); // the lookups are there to see
    expect(proc.stderr()).not.toMatch(/"(bullmq|ioredis)"/);
  });

  it("saves a V8 code cache on the first start and starts from it afterwards", async () => {
    rmSync(codeCache(), { force: true });
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    /** One edge start, kept up until a good cache exists (saved ~1.5 s after start) or for 2.5 s. */
    const once = async (waitForCache: boolean) => {
      const dataDir = tempDataDir();
      const port = await freePort();
      const proc = spawnNode([BIN, "edge", "--port", String(port), "--data-dir", dataDir], {
        env: {
          SUTAZAI_LOG_LEVEL: "info",
          SUTAZAI_ADMIN_KEY: testAdminKey(),
          SUTAZAI_SHUTDOWN_GRACE_MS: "5000",
        },
      });
      try {
        await waitForLogLine(proc, (l) => l.msg === "listening");
        if (waitForCache) for (let i = 0; i < 200 && !cached(); i++) await sleep(50);
        else await sleep(2500); // a start that saves would have saved by now
        expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      } finally {
        expect(await stopProcess(proc)).toEqual({ code: 0, signal: null });
      }
    };
    // A one-shot command leaves no cache: it would hold little of what a node start runs.
    expect((await spawnNode([BIN, "--version"]).exited).code).toBe(0);
    expect(existsSync(codeCache())).toBe(false);
    await once(true);
    expect(cached()).toBe(true);
    const saved = statSync(codeCache()).mtimeMs;
    await once(false);
    expect(statSync(codeCache()).mtimeMs).toBe(saved); // accepted: not written again
    // A cache V8 refuses (here: garbage) is replaced by a good one.
    writeFileSync(codeCache(), "not bytecode");
    await once(true);
    expect(cached()).toBe(true);
  });

  it("loads an optional package on first use, also when started from the code cache", async () => {
    expect(cached()).toBe(true); // left by the test before
    const model =
      process.env.SUTAZAI_TEST_MODEL ?? join(REPO_ROOT, "..", "shared", "models", "stories260K.gguf");
    const adminKey = testAdminKey();
    const port = await freePort();
    const proc = spawnNode([BIN, "edge", "--port", String(port), "--data-dir", tempDataDir()], {
      env: {
        SUTAZAI_LOG_LEVEL: "info",
        SUTAZAI_ADMIN_KEY: adminKey,
        SUTAZAI_LLM_PROVIDER: "embedded",
        SUTAZAI_LLM_MODEL: model,
        SUTAZAI_LLM_THREADS: "1",
      },
    });
    try {
      await waitForLogLine(proc, (l) => l.msg === "listening");
      const res = await fetch(`http://127.0.0.1:${port}/v1/functions/code-assistant/invoke`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
        body: JSON.stringify({ action: "explain", code: "let a = 1" }),
      });
      const body = (await res.json()) as { status: string; output: { model: string } };
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(body).toMatchObject({ status: "succeeded", output: { model: "stories260K" } });
    } finally {
      await stopProcess(proc);
    }
    expect(proc.stderr()).not.toContain("ExperimentalWarning");
  }, 60_000);
});

describe("bundleIsFresh", () => {
  const dir = mkdtempSync(join(tmpdir(), "sutazai-bundle-"));
  const source = join(dir, "source.ts");
  writeFileSync(source, "export {};\n");
  writeFileSync(join(dir, "sutazai.js"), "");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** The manifest a build writes: each input with the mtime and size it had then. */
  const manifest = (startedAt: number, files = [source]) =>
    writeFileSync(
      join(dir, "build.json"),
      JSON.stringify({
        startedAt,
        entry: "sutazai.js",
        inputs: files.map((f) => {
          const st = existsSync(f) ? statSync(f) : { mtimeMs: 0, size: 0 };
          return [relative(ROOT, f), st.mtimeMs, st.size];
        }),
      }),
    );
  const age = (file: string, ms: number) =>
    utimesSync(file, new Date(Date.now() - ms), new Date(Date.now() - ms));

  it("is the entry while every input is as it was at the build", () => {
    age(source, 60_000);
    manifest(Date.now());
    expect(bundleIsFresh(dir)).toBe(join(dir, "sutazai.js"));
  });

  it("is undefined once an input changed after the build started, or is gone", () => {
    age(source, 60_000);
    manifest(Date.now() - 120_000);
    expect(bundleIsFresh(dir)).toBeUndefined();
    manifest(Date.now(), [join(dir, "deleted.ts")]);
    expect(bundleIsFresh(dir)).toBeUndefined();
  });

  it("is undefined when an input was replaced by an OLDER copy (rsync -a, cp -p, a tarball)", () => {
    age(source, 60_000);
    manifest(Date.now());
    writeFileSync(source, "export const changed = 1;\n");
    age(source, 3_600_000); // deployed with its original, older time
    expect(bundleIsFresh(dir)).toBeUndefined();
  });

  it("is undefined without a manifest", () => {
    expect(bundleIsFresh(join(dir, "nowhere"))).toBeUndefined();
  });
});
