import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { OPTIONS } from "../runtime/config.ts";
import { freePort } from "./support/free-port.ts";
import { killAllSpawned, REPO_ROOT, removeTempDirs, runCli, tempDataDir } from "./support/spawn-node.ts";

afterAll(async () => {
  await killAllSpawned();
  removeTempDirs();
});

describe("sutazai --help and --version", () => {
  it("lists every command, every node flag and its environment variable", async () => {
    const run = await runCli(["--help"]);
    expect(run.code).toBe(0);
    for (const command of ["edge", "server", "worker", "migrate", "invoke", "sync", "bench", "help"]) {
      expect(run.stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
    }
    for (const option of OPTIONS) {
      expect(run.stdout).toContain(option.flag);
      expect(run.stdout).toContain(option.env);
    }
    for (const flag of ["--data", "--async", "--no-wait", "--url", "--key", "SUTAZAI_API_KEY"])
      expect(run.stdout).toContain(flag);
  });

  it("answers `help <command>` and `<command> --help` with that command's usage", async () => {
    const [a, b] = await Promise.all([runCli(["help", "invoke"]), runCli(["invoke", "--help"])]);
    expect(a.code).toBe(0);
    expect(a.stdout).toContain("Usage: sutazai invoke <fn>");
    expect(b.stdout).toBe(a.stdout);
  });

  it("prints the package version", async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
    const run = await runCli(["--version"]);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(pkg.version);
  });
});

describe("usage and configuration errors exit 2 with a message that names the fix", () => {
  it("rejects a port that is not a number", async () => {
    const run = await runCli(["edge", "--port", "abc", "--data-dir", tempDataDir()]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--port / PORT must be a whole number from 0 to 65535, not "abc"');
    expect(run.stderr).not.toMatch(/\bat .*\.ts:\d+/); // no stack trace
  });

  it("rejects a bad value from the environment the same way", async () => {
    const run = await runCli(["edge", "--data-dir", tempDataDir()], { env: { SUTAZAI_CONCURRENCY: "lots" } });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--concurrency / SUTAZAI_CONCURRENCY must be a whole number");
  });

  it("rejects an unknown flag and suggests the near one", async () => {
    const run = await runCli(["edge", "--prot", "8080"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("Unknown flag --prot");
    expect(run.stderr).toContain("Did you mean --port?");
  });

  it("rejects an unknown command", async () => {
    const run = await runCli(["frobnicate"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Unknown command "frobnicate"');
    expect(run.stderr).toContain("sutazai help");
  });

  it("rejects a flag without its value", async () => {
    const run = await runCli(["invoke", "echo", "--data"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--data needs a value");
  });

  it("rejects --data that is not JSON before calling anything", async () => {
    const run = await runCli(["invoke", "echo", "--data", "{message: hi}"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--data must be JSON");
  });
});

describe("sutazai migrate", () => {
  it("applies the migrations on a fresh data dir, and a second run finds nothing to do", async () => {
    const dataDir = tempDataDir();
    const first = await runCli(["migrate", "--data-dir", dataDir]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/applied \d+ migrations? \(.+\); schema version \S+\./);
    const second = await runCli(["migrate", "--data-dir", dataDir]);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("is up to date: schema version");
    // Both name the same version.
    const version = (s: string) => /schema version (\S+?)[ .]/.exec(s)?.[1];
    expect(version(second.stdout)).toBe(version(first.stdout));
  });

  it("takes the database from --db-url too", async () => {
    const dbUrl = join(tempDataDir(), "other.db");
    const run = await runCli(["migrate", "--db-url", dbUrl]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(dbUrl);
  });
});

describe("sutazai invoke without a node", () => {
  it("exits 1 and says how to point it at a node", async () => {
    const port = await freePort();
    const run = await runCli(["invoke", "echo", "--url", `http://127.0.0.1:${port}`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`Cannot reach a SutazAI node at http://127.0.0.1:${port}`);
    expect(run.stderr).toContain("SUTAZAI_URL");
  });

  it("reports a missing or non-JSON --data @file", async () => {
    const file = join(tempDataDir(), "missing.json");
    const run = await runCli(["invoke", "echo", "--data", `@${file}`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`cannot read ${file}`);
    writeFileSync(file, "not json");
    const bad = await runCli(["invoke", "echo", "--data", `@${file}`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--data must be JSON");
  });
});

describe("sutazai bench", () => {
  it("runs a benchmark from bench/ and prints its one JSON line; an unknown one exits 2", async () => {
    const [run, unknown] = await Promise.all([runCli(["bench", "sync-outbox"]), runCli(["bench", "nope"])]);
    expect(run.code, run.stderr).toBe(0);
    const line = JSON.parse(run.stdout.trim()) as { bench: string; ratio: number };
    expect(line).toMatchObject({ bench: "sync-outbox", ratio: expect.any(Number) });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("usage: npm run bench -- <invoke|startup|queue|sync|sync-outbox");
  }, 60_000);
});
