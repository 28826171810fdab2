import { readFileSync } from "node:fs";
import { type FlagSpec, flagValue, isOn, UsageError } from "../args.ts";
import { describeProblem, RemoteError } from "../http.ts";
import { waitForInvocation } from "./invoke-wait.ts";
import { failure, REMOTE_FLAGS, remoteClient } from "./remote.ts";
import type { Command } from "./types.ts";

const DATA: FlagSpec = {
  name: "data",
  value: "<json>",
  help: "the function's input as JSON, or @file to read it from a file",
  default: "{}",
};
const ASYNC: FlagSpec = {
  name: "async",
  boolean: true,
  help: "queue it; print the invocation id, then follow its status until it finishes",
};
const NO_WAIT: FlagSpec = {
  name: "no-wait",
  boolean: true,
  help: "with --async: print the id and return without waiting",
};
const IDEMPOTENCY: FlagSpec = {
  name: "idempotency-key",
  value: "<key>",
  help: "repeat-safe: the same key returns the first result instead of running again",
};

export const invokeCommand: Command = {
  name: "invoke",
  summary: "invoke a function on a running node and print its output",
  usage: "sutazai invoke <fn> --data JSON [--async [--no-wait]] [--url http://127.0.0.1:8787] [--key K]",
  flags: [DATA, ASYNC, NO_WAIT, IDEMPOTENCY, ...REMOTE_FLAGS],
  details:
    "Without --key or SUTAZAI_API_KEY it uses <data-dir>/admin.key, so `npm start` then `sutazai invoke` works on the same box.\n" +
    "The output goes to stdout as JSON; with --async the first line is the invocation id and status changes go to stderr.\n" +
    "Exits 1 when the call or the invocation fails, printing the problem's detail.",
  async run(args, env) {
    const [fn, ...rest] = args.positionals;
    if (!fn) throw new UsageError(`Which function? Usage: sutazai invoke echo --data '{"message":"hi"}'`);
    if (rest.length)
      throw new UsageError(
        `\`sutazai invoke\` takes one function name, got "${args.positionals.join(" ")}". Quote the --data JSON.`,
      );
    const input = parseData(String(flagValue(args, DATA, env)));
    const wantAsync = isOn(args.flags.async);
    const noWait = isOn(args.flags["no-wait"]);
    if (noWait && !wantAsync) throw new UsageError("--no-wait only makes sense with --async.");
    const client = remoteClient(args, env);
    const headers: Record<string, string> = {};
    if (typeof args.flags["idempotency-key"] === "string")
      headers["idempotency-key"] = args.flags["idempotency-key"];

    try {
      const path = `/v1/functions/${encodeURIComponent(fn)}/invoke${wantAsync ? "?mode=async" : ""}`;
      const res = await client.request("POST", path, input, headers);
      if (res.status >= 400) return fail(describeProblem(res.status, res.body));
      const body = res.body as { id: string; output?: unknown };
      if (!wantAsync) {
        printJson(body.output);
        return 0;
      }
      process.stdout.write(`${body.id}\n`);
      if (noWait) return 0;
      const finished = await waitForInvocation(client, body.id, (line) => process.stderr.write(`${line}\n`));
      if (finished.status !== "succeeded") {
        const error = finished.error;
        return fail(
          `invocation ${body.id} ${finished.status}${error ? `: ${error.code}: ${error.message}` : ""}`,
        );
      }
      printJson(finished.output);
      return 0;
    } catch (err) {
      if (err instanceof RemoteError) return fail(err.message);
      throw err;
    }
  },
};

function parseData(raw: string): unknown {
  let text = raw;
  if (raw.startsWith("@")) {
    try {
      text = readFileSync(raw.slice(1), "utf8");
    } catch (err) {
      throw new UsageError(
        `--data ${raw}: cannot read ${raw.slice(1)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`,
      );
    }
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(
      `--data must be JSON (${(err as Error).message}). Quote it for the shell: --data '{"message":"hi"}'.`,
    );
  }
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value ?? null, null, 2)}\n`);
}

const fail = failure("invoke");
