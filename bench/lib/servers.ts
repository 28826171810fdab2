import { join } from "node:path";
import { freePort } from "../../tests/support/free-port.ts";
import {
  CLI_MAIN,
  type CliProcess,
  REPO_ROOT,
  spawnNode,
  stopProcess,
  tempDataDir,
  testAdminKey,
  waitForHealthy,
  waitForLogLine,
} from "../../tests/support/spawn-node.ts";

export interface BenchServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export interface BenchNode extends BenchServer {
  adminKey: string;
  dataDir: string;
}

/**
 * Environment for a node under load: the per-credential rate limit lifted to its maximum
 * (one credential drives all 50 connections) and only warnings logged.
 */
export function benchEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    SUTAZAI_RATE_LIMIT: "1000000",
    SUTAZAI_RATE_BURST: "10000000",
    SUTAZAI_LOG_LEVEL: "warn",
    ...extra,
  };
}

/**
 * Node flags for the measured servers only, e.g. BENCH_CHILD_NODE_ARGS="--cpu-prof
 * --cpu-prof-dir=/tmp/prof" to see where a server spends a load run (NODE_OPTIONS refuses --cpu-prof).
 */
function childNodeArgs(): string[] {
  return (process.env.BENCH_CHILD_NODE_ARGS ?? "").split(" ").filter(Boolean);
}

/** `sutazai edge` in a child process (on a fresh data dir unless given), answering /healthz. */
export async function startEdgeNode(
  env: Record<string, string> = {},
  dataDir = tempDataDir("sutazai-bench-"),
): Promise<BenchNode> {
  const port = await freePort();
  const adminKey = testAdminKey();
  const argv = [
    ...childNodeArgs(),
    "--import",
    "tsx",
    CLI_MAIN,
    "edge",
    "--port",
    String(port),
    "--data-dir",
    dataDir,
  ];
  const proc = spawnNode(argv, { env: benchEnv({ SUTAZAI_ADMIN_KEY: adminKey, ...env }) });
  const url = `http://127.0.0.1:${port}`;
  const early = exitedEarly(proc);
  early.catch(() => {}); // it rejects again at the normal exit; only the race listens
  await Promise.race([waitForHealthy(url), early]).catch(failWith(proc));
  return { url, pid: proc.child.pid!, adminKey, dataDir, stop: () => stop(proc) };
}

/** A bench/*.ts server script in a child process; it logs {"msg":"listening","url"} once up. */
export async function startScript(
  file: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<BenchServer> {
  const argv = [...childNodeArgs(), "--import", "tsx", join(REPO_ROOT, "bench", file), ...args];
  const proc = spawnNode(argv, { env: benchEnv(env) });
  const line = await waitForLogLine(proc, (l) => l.msg === "listening").catch(failWith(proc));
  return { url: String(line.url), pid: proc.child.pid!, stop: () => stop(proc) };
}

async function stop(proc: CliProcess): Promise<void> {
  const exit = await stopProcess(proc, "SIGTERM", 20_000);
  if (exit.code !== 0)
    process.stderr.write(
      `bench: server exited with ${exit.code ?? exit.signal}\n${proc.stderr().slice(-2000)}\n`,
    );
}

async function exitedEarly(proc: CliProcess): Promise<never> {
  const exit = await proc.exited;
  throw new Error(`exited with ${exit.code ?? exit.signal} before answering /healthz`);
}

function failWith(proc: CliProcess) {
  return (err: unknown): never => {
    proc.child.kill("SIGKILL");
    throw new Error(`${(err as Error).message}\n${proc.stderr().slice(-2000)}`);
  };
}
