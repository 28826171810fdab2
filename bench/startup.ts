import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { freePort } from "../tests/support/free-port.ts";
import { CLI_MAIN, REPO_ROOT, spawnNode, stopProcess, tempDataDir } from "../tests/support/spawn-node.ts";
import { startEdgeNode } from "./lib/servers.ts";
import { median } from "./lib/stats.ts";

const BUILD_DIR = join(REPO_ROOT, "bench", ".startup-build");
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface StartRun {
  ms: number;
  rssMb: number;
}

/**
 * Edge node cold start on an existing data dir: spawn → first 200 from /healthz, then RSS
 * after idling. `ms`/`rss_mb` are what `npm start` pays (node --import tsx). The same start
 * from an esbuild bundle (`compiled_*`) and bare `node -e ""` / `node --import tsx -e ""`
 * show how that splits between Node, tsx and our own start.
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
  const bundle = await buildBundle();
  try {
    // Interleaved, so a burst of other load on the box hits every kind of start alike.
    const viaTsx: StartRun[] = [];
    const compiled: StartRun[] = [];
    const nodeBoot: number[] = [];
    const tsxBoot: number[] = [];
    for (let i = 0; i < runs; i++) {
      viaTsx.push(await timeStart(["--import", "tsx", CLI_MAIN], edgeArgs, idleMs));
      if (bundle) compiled.push(await timeStart([bundle], edgeArgs, idleMs));
      nodeBoot.push(await timeExit(["-e", ""]));
      tsxBoot.push(await timeExit(["--import", "tsx", "-e", ""]));
      process.stderr.write(
        `startup #${i + 1}: tsx ${JSON.stringify(viaTsx[i])} compiled ${JSON.stringify(compiled[i] ?? null)} ` +
          `node -e ${nodeBoot[i]} ms, node --import tsx -e ${tsxBoot[i]} ms\n`,
      );
    }
    const med = (xs: number[]) => Math.round(median(xs));
    const medMb = (xs: number[]) => Math.round(median(xs) * 10) / 10;
    return {
      bench: "startup",
      ms: med(viaTsx.map((r) => r.ms)),
      rss_mb: medMb(viaTsx.map((r) => r.rssMb)),
      runs,
      compiled_ms: bundle ? med(compiled.map((r) => r.ms)) : null,
      compiled_rss_mb: bundle ? medMb(compiled.map((r) => r.rssMb)) : null,
      node_boot_ms: med(nodeBoot),
      tsx_boot_ms: med(tsxBoot),
    };
  } finally {
    rmSync(BUILD_DIR, { recursive: true, force: true });
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
    await sleep(idleMs);
    return { ms: Math.round(ms), rssMb: vmRssMb(proc.child.pid!) };
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

function vmRssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
  if (!line) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(line[1]) / 1024;
}

/**
 * cli/main.ts bundled to ESM (packages stay external), i.e. what a compiled release would
 * run. esbuild is installed through the dev tools (drizzle-kit, vite); without it the
 * compiled numbers are skipped. The bundle sits in bench/ so bare imports still resolve to
 * ./node_modules, and import.meta.url is pinned to a file one level below the root, where
 * migrate.ts and help.ts expect to be.
 */
async function buildBundle(): Promise<string | undefined> {
  let esbuild: typeof import("esbuild");
  try {
    esbuild = await import("esbuild");
  } catch {
    process.stderr.write("startup: esbuild not installed; skipping the compiled start\n");
    return undefined;
  }
  await esbuild.build({
    entryPoints: [CLI_MAIN],
    outdir: BUILD_DIR,
    outExtension: { ".js": ".mjs" },
    // Dynamic imports stay separate chunks, loaded as late as in the tsx run: the edge
    // command must not pay for the server's bullmq/ioredis.
    splitting: true,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    define: { "import.meta.url": JSON.stringify(pathToFileURL(CLI_MAIN).href) },
    logLevel: "error",
  });
  return join(BUILD_DIR, "main.mjs");
}
