import type { Config } from "../../runtime/config.ts";
import { createLogger } from "../../runtime/log.ts";
import { composeNode, type StartedNode, type StartOptions, serveComposed } from "../compose.ts";
import { serverSync } from "../sync-plugins.ts";
import { serverQueue } from "./queue.ts";

/**
 * Starts a central server: HTTP API over a BullMQ queue (Redis). With config.inlineWorker
 * (the default) it also runs queued invocations itself, so one `sutazai server` is complete;
 * pass `--inline-worker false` when separate `sutazai worker` processes consume the queue.
 *
 * @example
 *   const { host } = await startServer(loadConfig("server", { "inline-worker": "false" }));
 */
export async function startServer(config: Config, opts: StartOptions = {}): Promise<StartedNode> {
  const log = opts.log ?? createLogger(config.logLevel, { role: config.role });
  const queue = await serverQueue(config, log);
  const { node } = await composeNode(config, { ...opts, log }, () => queue, [serverSync()]);
  return serveComposed(node, config, log, opts.signals);
}
