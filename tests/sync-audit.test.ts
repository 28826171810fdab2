import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createAuditLog } from "../runtime/audit/log.ts";
import { createSyncClient } from "../sync/client.ts";
import { createSyncHub } from "../sync/hub.ts";
import {
  FaultyNetwork,
  hubApp,
  openReplica,
  type Replica,
  type TempDir,
  tempDir,
} from "./support/sync-harness.ts";

/*
 * Edge audit entries flow edge → server by sync, land in the server's edge_audit_log under
 * the edge's id, and keep their chain: the server can verify each edge's log on its own and
 * notices when a received entry is altered.
 */
describe("sync: edge audit logs reach the server", () => {
  let dir: TempDir;
  let server: Replica;
  const edges: Replica[] = [];

  beforeEach(async () => {
    dir = tempDir();
    server = await openReplica(dir.path, "server", "server");
  });
  afterEach(() => {
    for (const r of edges.splice(0)) r.close();
    server.close();
    dir.remove();
  });

  async function edge(name: string, net: FaultyNetwork) {
    const replica = await openReplica(dir.path, name, "edge");
    edges.push(replica);
    const client = createSyncClient({
      ctx: replica.ctx,
      serverUrl: "http://hub.test",
      serverKey: "k",
      fetch: net.fetch,
      pushBatchSize: 3,
    });
    return { replica, client, audit: createAuditLog(replica.database) };
  }

  it("keeps each edge's chain apart, verifiable on the server, exactly once", async () => {
    const net = new FaultyNetwork(hubApp(createSyncHub(server.ctx)));
    const a = await edge("a", net);
    const b = await edge("b", net);
    const serverAudit = createAuditLog(server.database);
    await serverAudit.append({ actor: "admin", action: "key.created", outcome: "success" });
    for (let i = 0; i < 7; i++)
      await a.audit.append({ actor: `user-${i}`, action: "invocation", target: "echo", outcome: "success" });
    for (let i = 0; i < 4; i++)
      await b.audit.append({ actor: "op", action: "auth.failed", outcome: "denied", details: { i } });

    net.plan.push("duplicate", "drop-response"); // re-sent batches must not double anything
    await a.client.syncNow().catch(() => {});
    await a.client.syncNow();
    await b.client.syncNow();

    // The server's own chain is untouched: one entry, still intact.
    expect(await serverAudit.verify()).toMatchObject({ ok: true, count: 1 });
    const fromA = await serverAudit.query({ node: "site-a", limit: 100 });
    expect(fromA.entries.map((e) => [e.seq, e.actor])).toEqual(
      Array.from({ length: 7 }, (_, i) => [i + 1, `user-${i}`]),
    );
    expect((await serverAudit.query({ node: "site-b" })).entries).toHaveLength(4);
    expect((await serverAudit.query({ node: "site-b" })).entries[2]!.details).toEqual({ i: 2 });
    // The same head the edge computes itself: nothing was lost, reordered or rewritten.
    const headA = await a.audit.verify();
    expect(headA).toMatchObject({ ok: true, count: 7 });
    expect(await serverAudit.verify("site-a")).toEqual(headA);
    expect(await serverAudit.verify("site-b")).toMatchObject({ ok: true, count: 4 });

    // Later entries continue the same chain on the server.
    await a.audit.append({ actor: "late", action: "invocation", outcome: "success" });
    expect(await a.client.syncNow()).toMatchObject({ pushed: 1 });
    expect(await serverAudit.verify("site-a")).toEqual(await a.audit.verify());

    // Tampering with the server's copy shows, and names the entry.
    await server.exec("UPDATE edge_audit_log SET actor = 'someone-else' WHERE site = 'site-a' AND seq = 3");
    expect(await serverAudit.verify("site-a")).toMatchObject({ ok: false, seq: 3, reason: "hash_mismatch" });
    expect(await serverAudit.verify("site-b")).toMatchObject({ ok: true });
  });

  it("sends entries written before sync was installed (backfill)", async () => {
    const net = new FaultyNetwork(hubApp(createSyncHub(server.ctx)));
    // An edge that audited for a while before this version: its rows predate the triggers.
    const early = await openReplica(dir.path, "c", "edge", { tables: [] });
    const audit = createAuditLog(early.database);
    for (let i = 0; i < 3; i++)
      await audit.append({ actor: "early", action: "invocation", outcome: "success" });
    early.close();
    const c = await edge("c", net);
    await c.audit.append({ actor: "after", action: "invocation", outcome: "success" });
    await c.client.syncNow();
    expect(await createAuditLog(server.database).verify("site-c")).toEqual(await c.audit.verify());
    expect(await createAuditLog(server.database).verify("site-c")).toMatchObject({ count: 4 });
  });
});
