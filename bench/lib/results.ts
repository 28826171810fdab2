import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const RESULTS = fileURLToPath(new URL("../RESULTS.md", import.meta.url));

/** Prints a benchmark's one JSON line; with --record also appends it, dated, to bench/RESULTS.md. */
export function report(line: Record<string, unknown>, record: boolean): void {
  const json = JSON.stringify(line);
  console.log(json);
  if (!record) return;
  if (!existsSync(RESULTS)) {
    writeFileSync(
      RESULTS,
      "# Benchmark results\n\nOne line per run: date, then the JSON line the benchmark printed.\n\n",
    );
  }
  appendFileSync(RESULTS, `- ${new Date().toISOString().slice(0, 10)} \`${json}\`\n`);
}
