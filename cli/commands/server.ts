import { loadConfig } from "../../runtime/config.ts";
import { NODE_FLAGS, noPositionals } from "./node-flags.ts";
import type { Command } from "./types.ts";

export const serverCommand: Command = {
  name: "server",
  summary:
    "start a central server: HTTP API over a BullMQ queue on Redis (runs jobs too unless --inline-worker false)",
  usage: "sutazai server [--port 8788] [--redis-url redis://127.0.0.1:6379] [--inline-worker false]",
  flags: NODE_FLAGS,
  positionals: false,
  flagsTitle: "node flags (edge, server, worker)",
  async run(args, env) {
    noPositionals("server", args.positionals);
    const config = loadConfig("server", args.flags, env);
    // A dynamic import keeps bullmq/ioredis out of every process that is not a server.
    const { startServer } = await import("../../deploy/server/main.ts");
    await startServer(config);
    return "running";
  },
};
