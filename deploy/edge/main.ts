import { builtinFunctions } from "../../functions/index.ts";
import type { Config } from "../../runtime/config.ts";
import { ConfigError } from "../../runtime/errors.ts";
import { createLLM } from "../../runtime/llm/create.ts";
import { createLogger, type Logger } from "../../runtime/log.ts";
import { createNode, type NodeOptions, type RuntimeNode } from "../../runtime/node.ts";
import { createLocalQueue } from "../../runtime/queue/local.ts";
import { type NodeHost, serveNode } from "../host.ts";
import { edgeSync } from "../sync-plugins.ts";

/** What deploy/* entries accept beyond the config: everything createNode takes except the queue. */
export type StartOptions = Partial<Omit<NodeOptions, "config" | "queue" | "log">> & {
  log?: Logger;
  /** install SIGTERM/SIGINT handlers that shut down and exit; default true */
  signals?: boolean;
};

export interface StartedNode {
  node: RuntimeNode;
  host: NodeHost;
}

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
  const { signals, log: givenLog, ...nodeOpts } = opts;
  const log = givenLog ?? createLogger(config.logLevel, { role: config.role });
  const node = await createNode({
    functions: builtinFunctions,
    // Lazy: nothing is contacted or loaded until a function calls the LLM.
    llm: nodeOpts.llm ?? createLLM(config),
    ...nodeOpts,
    plugins: [edgeSync(config), ...(nodeOpts.plugins ?? [])],
    config,
    log,
    queue: (database) =>
      createLocalQueue(database, {
        log: log.child({ component: "queue.local" }),
        graceMs: config.shutdownGraceMs,
        queue: config.queueName,
      }),
  });
  try {
    if (config.inlineWorker) node.startWorker();
    const host = await serveNode(node, config, log, { signals });
    return { node, host };
  } catch (err) {
    await node.close().catch(() => {});
    throw err;
  }
}
