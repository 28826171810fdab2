import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type FlagSpec, flagValue, type ParsedArgs } from "../args.ts";
import { type NodeClient, nodeClient } from "../http.ts";
import { configFlags } from "./node-flags.ts";

/** Flags of commands that call a running node over HTTP (invoke, knowledge). */
export const URL_FLAG: FlagSpec = {
  name: "url",
  value: "<url>",
  env: "SUTAZAI_URL",
  help: "the node to call",
  default: "http://127.0.0.1:8787",
};
export const KEY_FLAG: FlagSpec = {
  name: "key",
  value: "<key>",
  env: "SUTAZAI_API_KEY",
  help: "API key or token, sent as Authorization: Bearer (default: <data-dir>/admin.key)",
  secret: true,
};
export const REMOTE_FLAGS: FlagSpec[] = [URL_FLAG, KEY_FLAG, ...configFlags(["dataDir"])];

/**
 * A client for the node named by --url, authenticated with --key / SUTAZAI_API_KEY, or
 * else with the bootstrap admin key of a node on this box, so `npm start` then a CLI call
 * works without copying secrets around.
 */
export function remoteClient(args: ParsedArgs, env: NodeJS.ProcessEnv): NodeClient {
  const key = flagValue(args, KEY_FLAG, env);
  return nodeClient(
    String(flagValue(args, URL_FLAG, env)),
    typeof key === "string" ? key : localAdminKey(args, env),
  );
}

function localAdminKey(args: ParsedArgs, env: NodeJS.ProcessEnv): string | undefined {
  const dataDir = String(args.flags["data-dir"] ?? env.SUTAZAI_DATA_DIR ?? "./data");
  try {
    return readFileSync(join(dataDir, "admin.key"), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Reports a command's failure: `sutazai <command>: <message>` on stderr; returns exit code 1. */
export const failure =
  (command: string) =>
  (message: string): number => {
    process.stderr.write(`sutazai ${command}: ${message}\n`);
    return 1;
  };
