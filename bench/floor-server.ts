import { parseArgs } from "node:util";
import { Hono } from "hono";
import { invocationAuditEntry } from "../runtime/audit/invocation-entry.ts";
import { createAuditLog } from "../runtime/audit/log.ts";
import { SYSTEM_PRINCIPAL } from "../runtime/auth/principal.ts";
import { openDatabase } from "../runtime/db.ts";
import { uuidv7 } from "../runtime/ids.ts";
import { InvocationStore } from "../runtime/invocations/store.ts";
import { applyMigrations } from "../runtime/migrate.ts";
import { serveBench } from "./lib/serve-bench.ts";

// The "floor" of the invoke benchmark: bench/bare-server.ts's handler plus the one thing the
// issue requires of every invocation that a bare handler does not do: a durable `invocations`
// row. Written the cheapest way we know (the node's own InvocationStore: one multi-row INSERT
// and one commit per group of concurrent requests, no sync triggers, no audit, no auth, no
// validation). Whatever ratio this server reaches against the bare one bounds what the full
// invocation path can reach on this machine. With --audit, also the audit entry DESIGN.md
// asks of every invocation, built and appended as the node does (fire-and-forget).
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
  audit?.record(
    invocationAuditEntry({
      id,
      function: "noop",
      trigger: "http",
      principal: SYSTEM_PRINCIPAL,
      status: "succeeded",
      durationMs: 0,
    }),
  );
  return c.json({ ok: true, body });
});

serveBench(app, async () => {
  await store.flush();
  await audit?.flush();
  database.close();
});
