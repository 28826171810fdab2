import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { startEdge } from "../deploy/edge/main.ts";
import { SYSTEM_PRINCIPAL } from "../runtime/auth/principal.ts";
import { loadConfig } from "../runtime/config.ts";

/**
 * The edge node of the invoke benchmark: startEdge(), exactly what `sutazai edge` runs, in
 * this child process, so the authenticated and unauthenticated runs differ in nothing but
 * the credential check (not even in how the process was launched).
 *
 *   --mode auth    the node as it ships: every request needs an API key or a JWT.
 *   --mode noauth  the same app with the credential check replaced by a constant principal.
 *                  Bench-only: the product has no switch that turns authentication off, and
 *                  this file does not add one; it swaps the function on its own node.
 *   --mode direct  a one-route Hono app calling the node's invoker.invoke(): how much of the
 *                  gap to the bare server is the invocation path and how much the HTTP app.
 *
 * Config comes from the environment (SUTAZAI_ADMIN_KEY, rate limit, log level).
 */
const { values } = parseArgs({ options: { "data-dir": { type: "string" }, mode: { type: "string" } } });
const mode = values.mode ?? "auth";
if (!["auth", "noauth", "direct"].includes(mode))
  throw new Error(`--mode must be auth, noauth or direct, not ${mode}`);

const config = loadConfig("edge", { "data-dir": values["data-dir"], port: "0" });
const { node, host } = await startEdge(config, { signals: false });
const { platform } = node;
// The app looks the authenticator up on this object at every request.
if (mode !== "auth") platform.security.authenticate = () => SYSTEM_PRINCIPAL;

let direct: Server | undefined;
if (mode === "direct") {
  const app = new Hono().post("/v1/functions/:name/invoke", async (c) => {
    const result = await platform.invoker.invoke({
      function: c.req.param("name"),
      input: await c.req.json(),
      principal: SYSTEM_PRINCIPAL,
      trigger: "http",
      signal: c.req.raw.signal,
    });
    return c.json(result);
  });
  direct = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () =>
      resolve(s as Server),
    ) as Server;
  });
}
const url = direct ? `http://127.0.0.1:${(direct.address() as AddressInfo).port}` : host.url;
console.error(JSON.stringify({ msg: "listening", url, mode }));

process.once("SIGTERM", () => {
  direct?.close();
  direct?.closeAllConnections();
  void host.shutdown().then(() => process.exit(0));
});
