import { type Config, describeConfig } from "../../runtime/config.ts";
import { createLogger } from "../../runtime/log.ts";
import type { RuntimeNode } from "../../runtime/node.ts";
import { composeNode, type StartOptions } from "../compose.ts";
import { exitOnSignal } from "../shutdown.ts";
import { serverQueue } from "./queue.ts";

export interface StartedWorker {
  node: RuntimeNode;
  /** stop taking jobs, let running ones finish (or release them after the grace period), close */
  shutdown(): Promise<void>;
}

/**
 * Starts a queue worker process: no HTTP listener, consumes the server's queue with
 * config.concurrency jobs at once. Scale out by running several (systemd `sutazai-worker@N`,
 * compose replicas); they share the data dir or a remote libSQL database with the server.
 */
export async function startWorker(config: Config, opts: StartOptions = {}): Promise<StartedWorker> {
  const log = opts.log ?? createLogger(config.logLevel, { role: config.role });
  const queue = await serverQueue(config, log);
  const { node } = await composeNode(config, { ...opts, log }, () => queue);
  node.startWorker();
  let stopped: Promise<void> | undefined;
  const shutdown = () => (stopped ??= node.close());
  if (opts.signals !== false) exitOnSignal(shutdown, log, { hardDeadlineMs: config.shutdownGraceMs + 5000 });
  log.info("worker started", {
    role: config.role,
    node: node.platform.node().id,
    dataDir: config.dataDir,
    queue: node.platform.queue.kind,
    concurrency: config.concurrency,
  });
  log.debug("config", describeConfig(config));
  return { node, shutdown };
}
