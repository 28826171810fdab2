import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { freshBundle } from "../cli/build.js";
import { freePort } from "../tests/support/free-port.ts";
import { CLI_MAIN, REPO_ROOT, spawnNode, stopProcess, tempDataDir } from "../tests/support/spawn-node.ts";
import { startEdgeNode } from "./lib/servers.ts";
import { median } from "./lib/stats.ts";

/** What `npm start` and the installed `sutazai` run: the bundle in dist/, via its freshness check. */
const BIN = join(REPO_ROOT, "cli", "bin.js");
const BUILD = join(REPO_ROOT, "cli", "build.js");
const MANIFEST = join(REPO_ROOT, "dist", "build.json");
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface StartRun {
  ms: number;
  /** CPU (user + system) the child used until its first 200: steadier than `ms` on a shared box */
  cpuMs: number;
  rssMb: number;
}

/**
 * Edge node cold start on an existing data dir: spawn → first 200 from /healthz, then RSS
 * after idling. `ms`/`rss_mb`/`cpu_ms` are what `npm start` pays: `node cli/bin.js edge`,
 * which checks that the esbuild bundle in dist/ is fresh and runs it from the V8 code cache
 * that the first start after a build saved (a warm-up start here). `no_cache_*` is the same
 * start with that cache moved aside: the first start after an install. `tsx_*` is the same
 * start compiled from source by tsx (`node --import tsx cli/main.ts edge`, how the tests
 * spawn nodes), and bare `node -e ""` / `node --import tsx -e ""` show the fixed costs.
 */
export async function runStartupBench(
  opts: { runs?: number; idleMs?: number } = {},
): Promise<Record<string, unknown>> {
  const runs = opts.runs ?? 5;
  const idleMs = opts.idleMs ?? 5000;
  // First start applies the migrations and creates the keys; every measured start reuses them.
  const dataDir = tempDataDir("sutazai-bench-startup-");
  await (await startEdgeNode({}, dataDir)).stop();

  const edgeArgs = (port: number) => ["edge", "--port", String(port), "--data-dir", dataDir];
  await timeBundledStart(edgeArgs, 2500); // saves the code cache (1.5 s after it is up)
  // Interleaved, so a burst of other load on the box hits every kind of start alike.
  const bundled: StartRun[] = [];
  const noCache: StartRun[] = [];
  const viaTsx: StartRun[] = [];
  const nodeBoot: number[] = [];
  const tsxBoot: number[] = [];
  for (let i = 0; i < runs; i++) {
    bundled.push(await timeBundledStart(edgeArgs, idleMs));
    noCache.push(await withoutCodeCache(() => timeStart([BIN], edgeArgs, 0)));
    viaTsx.push(await timeStart(["--import", "tsx", CLI_MAIN], edgeArgs, idleMs));
    nodeBoot.push(await timeExit(["-e", ""]));
    tsxBoot.push(await timeExit(["--import", "tsx", "-e", ""]));
    process.stderr.write(
      `startup #${i + 1}: npm start ${JSON.stringify(bundled[i])} without code cache ${JSON.stringify(noCache[i])} ` +
        `tsx ${JSON.stringify(viaTsx[i])} ` +
        `node -e ${nodeBoot[i]} ms, node --import tsx -e ${tsxBoot[i]} ms\n`,
    );
  }
  const med = (xs: number[]) => Math.round(median(xs));
  const medMb = (xs: number[]) => Math.round(median(xs) * 10) / 10;
  return {
    bench: "startup",
    command: "node cli/bin.js edge",
    ms: med(bundled.map((r) => r.ms)),
    rss_mb: medMb(bundled.map((r) => r.rssMb)),
    cpu_ms: med(bundled.map((r) => r.cpuMs)),
    runs,
    no_cache_ms: med(noCache.map((r) => r.ms)),
    no_cache_cpu_ms: med(noCache.map((r) => r.cpuMs)),
    tsx_ms: med(viaTsx.map((r) => r.ms)),
    tsx_rss_mb: medMb(viaTsx.map((r) => r.rssMb)),
    tsx_cpu_ms: med(viaTsx.map((r) => r.cpuMs)),
    node_boot_ms: med(nodeBoot),
    tsx_boot_ms: med(tsxBoot),
  };
}

/**
 * One start through cli/bin.js with the bundle fresh beforehand. Sources edited while the
 * benchmark runs make bin.js rebuild first; such a run measures the build, so it is repeated.
 */
async function timeBundledStart(args: (port: number) => string[], idleMs: number): Promise<StartRun> {
  for (let attempt = 0; ; attempt++) {
    execFileSync(process.execPath, [BUILD, "--if-stale"], { cwd: REPO_ROOT, stdio: "inherit" });
    const builtAt = statSync(MANIFEST).mtimeMs;
    const run = await timeStart([BIN], args, idleMs);
    if (statSync(MANIFEST).mtimeMs === builtAt || attempt >= 3) return run;
    process.stderr.write("startup: the sources changed during a run (bin.js rebuilt dist/); repeating it\n");
  }
}

/** Runs `start` with the bundle's code cache moved aside, and puts it back afterwards. */
async function withoutCodeCache<T>(start: () => Promise<T>): Promise<T> {
  const cache = freshBundle()?.codeCache;
  if (!cache || !existsSync(cache))
    throw new Error(`startup: no code cache (${cache}) after the warm-up start`);
  renameSync(cache, `${cache}.aside`);
  try {
    return await start();
  } finally {
    renameSync(`${cache}.aside`, cache);
  }
}

/** Spawns `node ...prefix edge ...`, polls /healthz every ~5 ms, idles, reads VmRSS, stops it. */
async function timeStart(
  prefix: string[],
  args: (port: number) => string[],
  idleMs: number,
): Promise<StartRun> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/healthz`;
  const t0 = performance.now();
  const proc = spawnNode([...prefix, ...args(port)], {
    env: { SUTAZAI_LOG_LEVEL: "warn", NODE_OPTIONS: "" },
  });
  try {
    for (;;) {
      if (proc.child.exitCode !== null)
        throw new Error(`edge exited with ${proc.child.exitCode}: ${proc.stderr()}`);
      if (performance.now() - t0 > 30_000)
        throw new Error(`no 200 from ${url} within 30 s: ${proc.stderr()}`);
      const ok = await fetch(url).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await sleep(5);
    }
    const ms = performance.now() - t0;
    const cpuMs = cpuTimeMs(proc.child.pid!);
    await sleep(idleMs);
    return { ms: Math.round(ms), cpuMs, rssMb: vmRssMb(proc.child.pid!) };
  } finally {
    await stopProcess(proc, "SIGTERM", 20_000);
  }
}

/** Spawn → exit of a process that does nothing: the fixed cost under every start. */
async function timeExit(argv: string[]): Promise<number> {
  const t0 = performance.now();
  const exit = await spawnNode(argv, { env: { NODE_OPTIONS: "" } }).exited;
  if (exit.code !== 0) throw new Error(`node ${argv.join(" ")} exited with ${exit.code ?? exit.signal}`);
  return Math.round(performance.now() - t0);
}

/** utime + stime of a running process, from /proc (clock ticks of 10 ms on Linux). */
function cpuTimeMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function vmRssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
  if (!line) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(line[1]) / 1024;
}
