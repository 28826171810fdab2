import { loadConfig } from "../../runtime/config.ts";
import { NODE_FLAGS, noPositionals } from "./node-flags.ts";
import type { Command } from "./types.ts";

export const edgeCommand: Command = {
  name: "edge",
  summary: "start an edge node: HTTP API, libSQL file, durable local queue and its worker",
  usage: "sutazai edge [--port 8787] [--data-dir ./data] [--server-url URL]",
  flags: NODE_FLAGS,
  positionals: false,
  flagsTitle: "node flags (edge, server, worker)",
  async run(args, env) {
    noPositionals("edge", args.positionals);
    const config = loadConfig("edge", args.flags, env);
    // Imported late so `sutazai migrate` or `invoke` does not load the whole runtime.
    const { startEdge } = await import("../../deploy/edge/main.ts");
    await startEdge(config);
    return "running";
  },
};
