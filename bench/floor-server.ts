import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { createAuditLog } from "../runtime/audit/log.ts";
import { openDatabase } from "../runtime/db.ts";
import { uuidv7 } from "../runtime/ids.ts";
import { InvocationStore } from "../runtime/invocations/store.ts";
import { applyMigrations } from "../runtime/migrate.ts";

// The "floor" of the invoke benchmark: bench/bare-server.ts's handler plus the one thing the
// issue requires of every invocation that a bare handler does not do: a durable `invocations`
// row. Written the cheapest way we know (the node's own InvocationStore: one multi-row INSERT
// and one commit per group of concurrent requests, no sync triggers, no audit, no auth, no
// validation). Whatever ratio this server reaches against the bare one bounds what the full
// invocation path can reach on this machine. With --audit, also the audit entry DESIGN.md
// asks of every invocation, appended as the node does (createAuditLog, fire-and-forget).
const { values } = parseArgs({ options: { "data-dir": { type: "string" }, audit: { type: "boolean" } } });
if (!values["data-dir"]) throw new Error("--data-dir is required");
const database = await openDatabase(`${values["data-dir"]}/floor.db`);
await applyMigrations(database);
const store = new InvocationStore(database.db, database.client);
const audit = values.audit ? createAuditLog(database) : undefined;

const app = new Hono();
app.post("/noop", async (c) => {
  const body = await c.req.json();
  const startedAt = Date.now();
  const output = JSON.stringify({ ok: true, body });
  const id = uuidv7(startedAt);
  await store.insert({
    id,
    function: "noop",
    trigger: "http",
    status: "succeeded",
    nodeId: "floor",
    output,
    queuedAt: startedAt,
    startedAt,
    finishedAt: Date.now(),
    durationMs: 0,
  });
  audit?.record({
    actor: "floor",
    role: "admin",
    action: "invocation",
    target: "noop",
    outcome: "succeeded",
    details: { invocation: id, trigger: "http", durationMs: 0 },
  });
  return c.json({ ok: true, body });
});

const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => {
  const { port } = server.address() as AddressInfo;
  console.error(JSON.stringify({ msg: "listening", url: `http://127.0.0.1:${port}` }));
});
process.once("SIGTERM", () =>
  server.close(async () => {
    await store.flush();
    await audit?.flush();
    database.close();
    process.exit(0);
  }),
);
