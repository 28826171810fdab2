import { builtinFunctions } from "../../functions/index.ts";
import type { Config } from "../../runtime/config.ts";
import { createLLM } from "../../runtime/llm/create.ts";
import { createLogger } from "../../runtime/log.ts";
import { createNode } from "../../runtime/node.ts";
import type { StartedNode, StartOptions } from "../edge/main.ts";
import { serveNode } from "../host.ts";
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
  const { signals, log: givenLog, ...nodeOpts } = opts;
  const log = givenLog ?? createLogger(config.logLevel, { role: config.role });
  const queue = await serverQueue(config, log);
  const node = await createNode({
    functions: builtinFunctions,
    llm: nodeOpts.llm ?? createLLM(config),
    ...nodeOpts,
    plugins: [serverSync(), ...(nodeOpts.plugins ?? [])],
    config,
    log,
    queue,
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
