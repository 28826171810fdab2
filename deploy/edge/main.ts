import type { Config } from "../../runtime/config.ts";
import { ConfigError } from "../../runtime/errors.ts";
import { composeNode, localQueue, type StartedNode, type StartOptions, serveComposed } from "../compose.ts";
import { edgeSync } from "../sync-plugins.ts";

export type { StartedNode, StartOptions } from "../compose.ts";

/**
 * Starts an edge node: libSQL file + the durable local queue with its worker in this process,
 * served over HTTP. Never loads bullmq/ioredis, so it runs on a gateway without Redis.
 *
 * @example
 *   const { host } = await startEdge(loadConfig("edge", { port: "8787" }));
 */
export async function startEdge(config: Config, opts: StartOptions = {}): Promise<StartedNode> {
  if (config.queue !== "local") {
    throw new ConfigError(
      `An edge node keeps its queue in its own database: drop --queue ${config.queue} / SUTAZAI_QUEUE, or run \`sutazai server\` for a Redis-backed queue.`,
    );
  }
  const { node, log } = await composeNode(config, opts, (log) => localQueue(config, log), [edgeSync(config)]);
  return serveComposed(node, config, log, opts.signals);
}
