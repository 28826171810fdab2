import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./free-port.ts";

/** The repository root: children run with it as cwd so `--import tsx` resolves. */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const CLI_MAIN = join(REPO_ROOT, "cli", "main.ts");

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliProcess {
  child: ChildProcess;
  /** everything written so far */
  stdout(): string;
  stderr(): string;
  /** stderr lines that parse as JSON log entries */
  logLines(): Array<Record<string, unknown>>;
  exited: Promise<ExitInfo>;
}

export interface SpawnOptions {
  /** merged over process.env */
  env?: Record<string, string | undefined>;
  cwd?: string;
}

const live = new Set<ChildProcess>();
// A failed test must not leave nodes holding ports and data dirs behind.
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** Spawns `node --import tsx cli/main.ts ...args` and captures its output. */
export function spawnCli(args: string[], opts: SpawnOptions = {}): CliProcess {
  return spawnNode(["--import", "tsx", CLI_MAIN, ...args], opts);
}

/** Spawns `node ...argv` (e.g. a benchmark's own server script) and captures its output. */
export function spawnNode(argv: string[], opts: SpawnOptions = {}): CliProcess {
  const child = spawn(process.execPath, argv, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8").on("data", (s: string) => {
    out += s;
  });
  child.stderr!.setEncoding("utf8").on("data", (s: string) => {
    err += s;
  });
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once("close", (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, stdout: () => out, stderr: () => err, logLines: () => parseLogLines(err), exited };
}

export interface CliRun extends ExitInfo {
  stdout: string;
  stderr: string;
}

/** Runs a CLI command to completion (SIGKILL after `timeoutMs`). */
export async function runCli(
  args: string[],
  opts: SpawnOptions & { timeoutMs?: number } = {},
): Promise<CliRun> {
  const proc = spawnCli(args, opts);
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), opts.timeoutMs ?? 20_000);
  const exit = await proc.exited.finally(() => clearTimeout(timer));
  return { ...exit, stdout: proc.stdout(), stderr: proc.stderr() };
}

export interface NodeProcess extends CliProcess {
  role: "edge" | "server" | "worker";
  dataDir: string;
  /** empty for a worker, which has no HTTP listener */
  url: string;
  port: number;
  /** the bootstrap admin secret the node was started with (SUTAZAI_ADMIN_KEY) */
  adminKey: string;
  /** fetch against the node's URL with the admin key as Bearer */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** sends `signal` (default SIGTERM) and waits for the exit; SIGKILL after `timeoutMs` */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitInfo>;
}

export interface StartNodeOptions extends SpawnOptions {
  dataDir?: string;
  /** default: a free port */
  port?: number;
  /** extra CLI flags, e.g. ["--inline-worker", "false"] */
  args?: string[];
  timeoutMs?: number;
}

/**
 * Starts `sutazai edge|server|worker` on a temp data dir and a free port and waits until
 * it is up: the "listening" log line (edge, server) or "worker started" (worker).
 *
 * @example
 *   const edge = await startNodeProcess("edge");
 *   await fetch(`${edge.url}/healthz`);
 *   expect(await edge.stop()).toEqual({ code: 0, signal: null });
 */
export async function startNodeProcess(
  role: NodeProcess["role"],
  opts: StartNodeOptions = {},
): Promise<NodeProcess> {
  const dataDir = opts.dataDir ?? tempDataDir();
  const port = opts.port ?? (role === "worker" ? 0 : await freePort());
  const args = [
    role,
    "--data-dir",
    dataDir,
    ...(role === "worker" ? [] : ["--port", String(port)]),
    ...(opts.args ?? []),
  ];
  const adminKey = opts.env?.SUTAZAI_ADMIN_KEY ?? testAdminKey();
  const proc = spawnCli(args, {
    ...opts,
    env: {
      SUTAZAI_LOG_LEVEL: "info",
      SUTAZAI_SHUTDOWN_GRACE_MS: "5000",
      SUTAZAI_ADMIN_KEY: adminKey,
      ...opts.env,
    },
  });
  const ready = role === "worker" ? "worker started" : "listening";
  let line: Record<string, unknown>;
  try {
    line = await waitForLogLine(proc, (l) => l.msg === ready, opts.timeoutMs ?? 20_000);
  } catch (err) {
    proc.child.kill("SIGKILL");
    throw err;
  }
  const url = typeof line.url === "string" ? line.url : "";
  return {
    ...proc,
    role,
    dataDir,
    url,
    port,
    adminKey,
    request: (path, init = {}) => {
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${adminKey}`);
      return fetch(`${url}${path}`, { ...init, headers });
    },
    stop: (signal, timeoutMs) => stopProcess(proc, signal, timeoutMs),
  };
}

/** Resolves with the first JSON log line on stderr matching `match`; rejects if the process exits first. */
export function waitForLogLine(
  proc: CliProcess,
  match: (line: Record<string, unknown>) => boolean,
  timeoutMs = 20_000,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const found = proc.logLines().find(match);
      if (found) finish(() => resolve(found));
    };
    const onExit = (info: ExitInfo) =>
      finish(() =>
        reject(
          new Error(
            `process exited (${info.code ?? info.signal}) before the expected log line; stderr:\n${proc.stderr()}`,
          ),
        ),
      );
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(new Error(`no matching log line within ${timeoutMs} ms; stderr:\n${proc.stderr()}`)),
        ),
      timeoutMs,
    );
    let done = false;
    const finish = (settle: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      proc.child.stderr!.off("data", check);
      settle();
    };
    proc.child.stderr!.on("data", check);
    proc.exited.then(onExit);
    check();
  });
}

/** Polls `${url}/healthz` until it answers 200. For nodes started some other way than startNodeProcess. */
export async function waitForHealthy(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url}/healthz did not answer 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sends `signal` and awaits the exit; SIGKILL if it takes longer than `timeoutMs`. */
export async function stopProcess(
  proc: CliProcess,
  signal: NodeJS.Signals = "SIGTERM",
  timeoutMs = 15_000,
): Promise<ExitInfo> {
  if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill(signal);
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), timeoutMs);
  return proc.exited.finally(() => clearTimeout(timer));
}

/** Kills every child this module spawned that is still running (for afterAll). */
export async function killAllSpawned(): Promise<void> {
  const waits = [...live].map(
    (child) =>
      new Promise<void>((resolve) => {
        child.once("close", () => resolve());
        child.kill("SIGKILL");
      }),
  );
  await Promise.all(waits);
}

/** A well-formed API key secret (sk_sutazai_<8 hex>_<43 base64url>) for SUTAZAI_ADMIN_KEY. */
export function testAdminKey(): string {
  return `sk_sutazai_${randomBytes(4).toString("hex")}_${randomBytes(32).toString("base64url")}`;
}

const tempDirs: string[] = [];
process.once("exit", removeTempDirs);

/** Removes every tempDataDir() made so far (afterAll; vitest may end a fork without "exit"). */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A fresh directory under the OS temp dir, removed when the test process exits. */
export function tempDataDir(prefix = "sutazai-proc-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

function parseLogLines(text: string): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  for (const raw of text.split("\n")) {
    if (!raw.startsWith("{")) continue;
    try {
      lines.push(JSON.parse(raw) as Record<string, unknown>);
    } catch {
      // a partial line still being written
    }
  }
  return lines;
}

/**
 * A throw-away `redis-server` on a free port, so a test's BullMQ queue cannot meet another
 * test's (or a developer's) jobs on a shared Redis. Undefined when redis-server is not installed.
 */
export async function startPrivateRedis(): Promise<{ url: string; stop(): Promise<void> } | undefined> {
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    {
      stdio: ["ignore", "pipe", "ignore"],
    },
  );
  live.add(child);
  const closed = new Promise<void>((resolve) =>
    child.once("close", () => {
      live.delete(child);
      resolve();
    }),
  );
  const started = await new Promise<boolean>((resolve) => {
    let out = "";
    child.once("error", () => resolve(false));
    child.once("exit", () => resolve(false));
    child.stdout!.setEncoding("utf8").on("data", (s: string) => {
      out += s;
      if (out.includes("Ready to accept connections")) resolve(true);
    });
    setTimeout(() => resolve(false), 5000);
  });
  if (!started) {
    child.kill("SIGKILL");
    return undefined;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      child.kill("SIGTERM");
      await closed;
    },
  };
}
