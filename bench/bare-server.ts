import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { Hono } from "hono";

// The "bare" side of the invoke benchmark: the same HTTP stack (@hono/node-server + Hono)
// and the same request (POST, JSON body parsed, JSON answer) with none of our runtime.
// Runs in its own process so it gets a core to itself, like the edge node does.
const app = new Hono();
app.post("/noop", async (c) => {
  const body = await c.req.json();
  return c.json({ ok: true, body });
});

const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => {
  const { port } = server.address() as AddressInfo;
  // The same "listening" log line a node prints, so one helper waits for both.
  console.error(JSON.stringify({ msg: "listening", url: `http://127.0.0.1:${port}` }));
});
process.once("SIGTERM", () => server.close(() => process.exit(0)));
