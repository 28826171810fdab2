import { Hono } from "hono";
import { serveBench } from "./lib/serve-bench.ts";

// The "bare" side of the invoke benchmark: the same HTTP stack (@hono/node-server + Hono)
// and the same request (POST, JSON body parsed, JSON answer) with none of our runtime.
// Runs in its own process so it gets a core to itself, like the edge node does.
const app = new Hono();
app.post("/noop", async (c) => {
  const body = await c.req.json();
  return c.json({ ok: true, body });
});

serveBench(app);
