import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleIsFresh, ROOT } from "../cli/build.js";
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

// What `npm start` and the installed `sutazai` run: the esbuild bundle of cli/main.ts in dist/
// (built by `prepare` at npm install / npm ci), started through cli/bin.js.
const BIN = join(REPO_ROOT, "cli", "bin.js");
const ENTRY = join(REPO_ROOT, "dist", "sutazai.js");
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

  it("keeps optional and server-only packages out of the bundle, loaded from node_modules", () => {
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, "dist", "build.json"), "utf8")) as {
      outputs: string[];
    };
    const code = manifest.outputs
      .filter((o) => o.endsWith(".js"))
      .map((o) => readFileSync(join(REPO_ROOT, "dist", o), "utf8"))
      .join("\n");
    expect(code).toContain('import("node-llama-cpp")');
    expect(code).toContain('import("ollama")');
    expect(code).toMatch(/from\s*"bullmq"/);
    // ...but nothing an edge start loads before it runs a command imports bullmq or ioredis:
    // they sit in chunks that only `server` and `worker` import.
    const loaded = new Set<string>();
    const visit = (file: string) => {
      if (loaded.has(file)) return;
      loaded.add(file);
      const text = readFileSync(join(REPO_ROOT, "dist", file), "utf8");
      // static imports only (minified: `import{a as b}from"./chunk-X.js"`), not import("./...")
      for (const m of text.matchAll(
        /\b(?:import|export)\s*(?:[\w*{}\s,$]+?\s*from\s*)?["']\.\/([^"']+\.js)["']/g,
      ))
        visit(m[1]!);
    };
    visit("sutazai.js");
    expect(loaded.size).toBeGreaterThan(1);
    for (const file of loaded)
      expect(readFileSync(join(REPO_ROOT, "dist", file), "utf8")).not.toMatch(/from\s*"(bullmq|ioredis)"/);
  });
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
