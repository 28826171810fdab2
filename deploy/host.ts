import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { type Config, describeConfig } from "../runtime/config.ts";
import { ConfigError } from "../runtime/errors.ts";
import type { Logger } from "../runtime/log.ts";
import type { RuntimeNode } from "../runtime/node.ts";
import { exitOnSignal } from "./shutdown.ts";

export interface NodeHost {
  /** the bound port (differs from config.port when that is 0) */
  port: number;
  url: string;
  server: Server;
  /** graceful stop without exiting: no new connections, in-flight requests finish, then node.close() */
  shutdown(): Promise<void>;
}

export interface ServeOptions {
  /** install SIGTERM/SIGINT handlers that shut down and exit; default true. Off for in-process use. */
  signals?: boolean;
}

/**
 * Serves a node over HTTP on config.host:config.port. A signal triggers a graceful shutdown:
 * stop accepting, let in-flight requests finish (at most config.shutdownGraceMs), then close
 * the node (its workers finish or release their jobs, the database closes) and exit 0.
 *
 * @example
 *   const host = await serveNode(node, config, log);
 *   console.log(host.url); // http://127.0.0.1:8787
 */
export async function serveNode(
  node: RuntimeNode,
  config: Config,
  log: Logger,
  opts: ServeOptions = {},
): Promise<NodeHost> {
  const server = await listen(node, config);
  const port = (server.address() as AddressInfo).port;
  const url = `http://${urlHost(config.host)}:${port}`;

  let inFlight = 0;
  let draining = false;
  // Prepended so it runs before Hono's listener could write headers.
  server.prependListener("request", (_req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    // A keep-alive client may still send a request on its open connection while we drain:
    // serve it, but tell it not to reuse the connection.
    if (draining && !res.headersSent) res.setHeader("connection", "close");
    res.once("close", () => void inFlight--);
  });

  let stopped: Promise<void> | undefined;
  const shutdown = () => {
    stopped ??= (async () => {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = Date.now() + config.shutdownGraceMs;
      while (inFlight > 0 && Date.now() < deadline) {
        await sleep(20);
        // Connections whose response just finished become idle; close them as they do.
        server.closeIdleConnections();
      }
      if (inFlight > 0)
        log.warn("shutdown grace elapsed: aborting in-flight requests", {
          inFlight,
          graceMs: config.shutdownGraceMs,
        });
      server.closeAllConnections();
      await Promise.race([closed, sleep(1000)]);
      await node.close();
    })();
    return stopped;
  };

  if (opts.signals !== false) {
    // HTTP drain and worker drain each get the grace period; the margin covers closing the DB.
    exitOnSignal(shutdown, log, { hardDeadlineMs: 2 * config.shutdownGraceMs + 5000 });
  }
  log.info("listening", {
    url,
    role: config.role,
    node: node.platform.node().id,
    dataDir: config.dataDir,
    queue: node.platform.queue.kind,
    inlineWorker: config.inlineWorker,
  });
  log.debug("config", describeConfig(config));
  return { port, url, server, shutdown };
}

function listen(node: RuntimeNode, config: Config): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: node.app.fetch, hostname: config.host, port: config.port }, () => {
      server.off("error", onError);
      resolve(server as Server);
    });
    const onError = (err: NodeJS.ErrnoException) => reject(listenError(err, config));
    server.once("error", onError);
  });
}

/** The listen failures an operator causes and can fix become ConfigErrors that say how. */
function listenError(err: NodeJS.ErrnoException, config: Config): Error {
  const where = `${config.host}:${config.port}`;
  if (err.code === "EADDRINUSE")
    return new ConfigError(
      `${where} is already in use: stop the other process or pick another port with --port / PORT.`,
    );
  if (err.code === "EACCES")
    return new ConfigError(`Not allowed to listen on ${where}: use a port above 1023 with --port / PORT.`);
  if (err.code === "EADDRNOTAVAIL" || err.code === "ENOTFOUND") {
    return new ConfigError(
      `Cannot listen on ${where}: "${config.host}" is not an address of this machine. Set --host / HOST (e.g. 127.0.0.1 or 0.0.0.0).`,
    );
  }
  return err;
}

function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
