import { builtinFunctions } from "../functions/index.ts";
import type { Config } from "../runtime/config.ts";
import type { Database } from "../runtime/db.ts";
import { createLLM } from "../runtime/llm/create.ts";
import { createLogger, type Logger } from "../runtime/log.ts";
import { createNode, type NodeOptions, type NodePlugin, type RuntimeNode } from "../runtime/node.ts";
import type { Platform } from "../runtime/platform.ts";
import { createLocalQueue } from "../runtime/queue/local.ts";
import type { Queue } from "../runtime/queue/types.ts";
import { type NodeHost, serveNode } from "./host.ts";

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

/** The durable libSQL queue, as edge nodes and Redis-less servers use it. */
export function localQueue(config: Config, log: Logger): (database: Database) => Queue {
  return (database) =>
    createLocalQueue(database, {
      log: log.child({ component: "queue.local" }),
      graceMs: config.shutdownGraceMs,
      queue: config.queueName,
    });
}

/**
 * The node every entry (edge, server, worker) builds: the built-in functions, the configured
 * LLM (lazy: nothing is contacted or loaded until a function calls it), the entry's queue and
 * plugins, and whatever the caller overrides.
 */
export async function composeNode(
  config: Config,
  opts: StartOptions,
  /** the entry's queue backend, given the node's logger */
  queue: (log: Logger) => (database: Database) => Queue | Promise<Queue>,
  plugins: Array<(platform: Platform) => Promise<NodePlugin>> = [],
): Promise<{ node: RuntimeNode; log: Logger }> {
  const { signals: _signals, log: givenLog, ...nodeOpts } = opts;
  const log = givenLog ?? createLogger(config.logLevel, { role: config.role });
  const node = await createNode({
    functions: builtinFunctions,
    llm: nodeOpts.llm ?? createLLM(config),
    ...nodeOpts,
    plugins: [...plugins, ...(nodeOpts.plugins ?? [])],
    config,
    log,
    queue: queue(log),
  });
  return { node, log };
}

/** Starts the inline worker (if configured) and listens; a node that fails to listen is closed. */
export async function serveComposed(
  node: RuntimeNode,
  config: Config,
  log: Logger,
  signals?: boolean,
): Promise<StartedNode> {
  try {
    if (config.inlineWorker) node.startWorker();
    const host = await serveNode(node, config, log, { signals });
    return { node, host };
  } catch (err) {
    await node.close().catch(() => {});
    throw err;
  }
}
