import { afterEach, describe, expect, it } from "vitest";
import type { Principal } from "../runtime/auth/principal.ts";
import { uuidv7 } from "../runtime/ids.ts";
import { startTestNode, type TestNode, waitForInvocation } from "./support/test-node.ts";

/*
 * A queued invocation whose job never reached the queue (the process died between the row
 * and the enqueue) or was lost by it must not stay "queued" forever — and when it runs
 * again, it runs as the caller who queued it, never with more rights.
 */
let node: TestNode | undefined;
afterEach(async () => {
  await node?.dispose();
  node = undefined;
});

let developer: Principal;
let device: Principal;

/** A node with two real keys: queued work re-checks its key when it runs. */
async function startNode(): Promise<TestNode> {
  const n = await startTestNode();
  const keys = n.platform.security.keys;
  const dev = await keys.create({ name: "dev", role: "developer", createdBy: "test" });
  const dvc = await keys.create({
    name: "sensor",
    role: "device",
    functions: ["telemetry"],
    createdBy: "test",
  });
  developer = { id: dev.id, role: "developer", via: "key" };
  device = { id: dvc.id, role: "device", functions: ["telemetry"], via: "key" };
  return n;
}

/** The row enqueue() writes, without the job: what a crash right after the insert leaves. */
async function orphanRow(n: TestNode, fields: { principal: Principal; queuedAt: number; nodeId?: string }) {
  const id = uuidv7();
  await n.platform.database.client.execute({
    sql: `INSERT INTO invocations (id, function, trigger, status, attempt, max_attempts, input, principal, caller, node_id, queued_at, created_at)
          VALUES (?, 'echo', 'http', 'queued', 0, 1, '{"message":"hi"}', ?, ?, ?, ?, ?)`,
    args: [
      id,
      fields.principal.id,
      JSON.stringify(fields.principal),
      fields.nodeId ?? n.platform.node().id,
      fields.queuedAt,
      fields.queuedAt,
    ],
  });
  return id;
}

/** A delayed async echo as the developer: a job the queue holds for a while. */
async function echoLater(n: TestNode, delayMs: number): Promise<string> {
  const queued = await n.platform.invoker.enqueue({
    function: "echo",
    input: { message: "later" },
    principal: developer,
    trigger: "http",
    delayMs,
  });
  return queued.id;
}

describe("invocations the queue never got", () => {
  it("are re-queued after a minute and run once, as their caller", async () => {
    node = await startNode();
    const old = Date.now() - 120_000;
    const lost = await orphanRow(node, { principal: developer, queuedAt: old });
    const forbidden = await orphanRow(node, { principal: device, queuedAt: old });
    const fresh = await orphanRow(node, { principal: developer, queuedAt: Date.now() }); // enqueue may still be in flight
    const elsewhere = await orphanRow(node, { principal: developer, queuedAt: old, nodeId: "edge-7" }); // synced from an edge

    expect(await node.platform.invoker.requeueLost()).toBe(2);
    expect(await waitForInvocation(node, lost)).toMatchObject({
      status: "succeeded",
      output: { message: "hi" },
    });
    // The device key may only invoke telemetry: re-queued, it is refused, not run as admin.
    expect(await waitForInvocation(node, forbidden)).toMatchObject({
      status: "failed",
      error: { code: "FORBIDDEN" },
    });
    const rows = await node.platform.database.client.execute({
      sql: "SELECT id, status FROM invocations WHERE id IN (?, ?)",
      args: [fresh, elsewhere],
    });
    expect(rows.rows.map((r) => r.status)).toEqual(["queued", "queued"]);

    // A second sweep finds nothing; the finished ones are not run again.
    expect(await node.platform.invoker.requeueLost()).toBe(0);
  });

  it("leaves alone a job the queue still holds (a delayed one), without running it twice", async () => {
    node = await startNode();
    const id = await echoLater(node, 400);
    expect(await node.platform.invoker.requeueLost(-1_000)).toBe(1); // offered again: same job id
    expect(await waitForInvocation(node, id)).toMatchObject({ status: "succeeded", attempt: 1 });
    const jobs = await node.platform.database.client.execute({
      sql: "SELECT count(*) AS n FROM jobs WHERE id = ?",
      args: [id],
    });
    expect(Number(jobs.rows[0]!.n)).toBeLessThanOrEqual(1);
  });

  it("re-drives a dead invocation whose job is gone as its own caller", async () => {
    node = await startNode();
    const id = await orphanRow(node, { principal: device, queuedAt: Date.now() });
    await node.platform.database.client.execute({
      sql: "UPDATE invocations SET status = 'dead' WHERE id = ?",
      args: [id],
    });
    await node.platform.invoker.redrive(id);
    expect(await waitForInvocation(node, id)).toMatchObject({
      status: "failed",
      error: { code: "FORBIDDEN" },
    });
  });

  it("does not run queued work of a key revoked since it was queued", async () => {
    node = await startNode();
    const id = await echoLater(node, 300);
    await node.platform.security.keys.revoke(developer.id, "test");
    expect(await waitForInvocation(node, id)).toMatchObject({
      status: "failed",
      error: { code: "CREDENTIAL_REVOKED" },
    });
  });

  it("refuses to re-drive a row that predates the recorded caller", async () => {
    node = await startNode();
    const id = await orphanRow(node, { principal: developer, queuedAt: Date.now() });
    await node.platform.database.client.execute({
      sql: "UPDATE invocations SET status = 'dead', caller = NULL WHERE id = ?",
      args: [id],
    });
    await expect(node.platform.invoker.redrive(id)).rejects.toMatchObject({
      status: 409,
      code: "INVOCATION_NOT_REDRIVABLE",
    });
  });
});
