import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { runInvokeBench } from "./invoke.ts";
import { report } from "./lib/results.ts";
import { runQueueBench } from "./queue.ts";
import { runStartupBench } from "./startup.ts";

// `npm run bench -- <name|all> [--record]`: each benchmark prints ONE JSON line on stdout
// (progress goes to stderr); --record also appends it, dated, to bench/RESULTS.md.

type Bench = () => Promise<Record<string, unknown>>;

const BENCHES: Record<string, Bench> = {
  invoke: () => runInvokeBench(),
  startup: () => runStartupBench(),
  queue: () => runQueueBench(),
  // Owned by other engineers; present only once their files exist.
  sync: () => optional("sync.ts", "runSyncBench"),
  "sync-outbox": () => optional("sync.ts", "runSyncOutboxBench"),
  llm: () => optional("llm.ts", "runLlmBench"),
  knowledge: () => optional("knowledge.ts", "runKnowledgeBench"),
};

class Missing extends Error {}

/** Calls `exported` of bench/<file> (loaded by URL, so a missing file does not break typechecking). */
async function optional(file: string, exported: string): Promise<Record<string, unknown>> {
  const url = new URL(`./${file}`, import.meta.url);
  if (!existsSync(fileURLToPath(url))) throw new Missing(`bench/${file} does not exist yet`);
  const mod = (await import(url.href)) as Record<string, unknown>;
  const fn = mod[exported];
  if (typeof fn !== "function") throw new Error(`bench/${file} does not export ${exported}()`);
  return (await fn()) as Record<string, unknown>;
}

async function main(argv: string[]): Promise<number> {
  const record = argv.includes("--record");
  const names = argv.filter((a) => !a.startsWith("--"));
  const name = names[0];
  if (names.length !== 1 || !name || (name !== "all" && !(name in BENCHES))) {
    process.stderr.write(
      `usage: npm run bench -- <${[...Object.keys(BENCHES), "all"].join("|")}> [--record]\n`,
    );
    return 2;
  }
  let failed = 0;
  for (const n of name === "all" ? Object.keys(BENCHES) : [name]) {
    // The load before the run says whether the box was shared (other test runs) while it ran.
    const load = loadavg().map((l) => Math.round(l * 100) / 100);
    process.stderr.write(`bench ${n}: starting (loadavg ${load.join(" ")})\n`);
    try {
      const line = await BENCHES[n]!();
      report({ ...line, loadavg: load }, record);
    } catch (err) {
      // `all` runs what exists; naming a missing benchmark is still an error.
      if (err instanceof Missing && name === "all") {
        process.stderr.write(`bench ${n}: skipped, ${err.message}\n`);
        continue;
      }
      failed++;
      process.stderr.write(`bench ${n} failed: ${(err as Error).stack ?? err}\n`);
    }
  }
  return failed ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
// Lingering keep-alive sockets or Redis clients must not hold the process open.
process.exit();
