import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type FlagSpec, isOn, UsageError } from "../args.ts";
import type { Command } from "./types.ts";

const RECORD: FlagSpec = {
  name: "record",
  boolean: true,
  help: "also append the line, dated, to bench/RESULTS.md",
};

/** The repository's benchmark runner (bench/run.ts); absent from an installed package. */
const RUNNER = fileURLToPath(new URL("../../bench/run.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * `sutazai bench <name> [--record]`: runs one of the repository's benchmarks (bench/run.ts,
 * the same as `npm run bench -- <name>`), each printing one JSON line on stdout.
 */
export const benchCommand: Command = {
  name: "bench",
  summary: "run a benchmark from bench/ and print its JSON line (from a clone of the repository)",
  usage: "sutazai bench <invoke|startup|queue|sync|sync-outbox|llm|knowledge|all> [--record]",
  flags: [RECORD],
  details:
    "Progress goes to stderr, the result (one JSON line per benchmark) to stdout. The benchmarks need the\n" +
    "repository's dev dependencies (npm install in a clone); what each compares is in README.md.",
  async run(args) {
    const [name, ...rest] = args.positionals;
    if (!name || rest.length) throw new UsageError(`Usage: ${benchCommand.usage}`);
    if (!existsSync(RUNNER))
      throw new UsageError(
        "The benchmarks run from a clone of the SutazAI repository (bench/ is not installed with the package): " +
          "git clone it, npm install, then npm run bench -- <name>.",
      );
    const argv = ["--import", "tsx", RUNNER, name, ...(isOn(args.flags.record) ? ["--record"] : [])];
    const child = spawn(process.execPath, argv, { cwd: ROOT, stdio: "inherit" });
    return new Promise<number>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    });
  },
};
