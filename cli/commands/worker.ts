import { loadConfig } from "../../runtime/config.ts";
import { NODE_FLAGS, noPositionals } from "./node-flags.ts";
import type { Command } from "./types.ts";

export const workerCommand: Command = {
  name: "worker",
  summary: "start a queue worker for a server (no HTTP); run several to scale out",
  usage: "sutazai worker [--data-dir ./data] [--redis-url redis://127.0.0.1:6379] [--concurrency 8]",
  flags: NODE_FLAGS,
  positionals: false,
  flagsTitle: "node flags (edge, server, worker)",
  async run(args, env) {
    noPositionals("worker", args.positionals);
    const config = loadConfig("worker", args.flags, env);
    const { startWorker } = await import("../../deploy/server/worker.ts");
    await startWorker(config);
    return "running";
  },
};
