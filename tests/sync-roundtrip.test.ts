import { OpenAPIHono } from "@hono/zod-openapi";
import { sqliteTable, text } from "drizzle-orm/sqlite-core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Principal } from "../runtime/auth/principal.ts";
import { errorHandler } from "../runtime/http/error-handler.ts";
import { silentLogger } from "../runtime/log.ts";
import type { AppEnv } from "../runtime/platform.ts";
import { state as stateTable } from "../schema/state.ts";
import { collectGarbage } from "../sync/changelog.ts";
import { createSyncClient, type SyncClient } from "../sync/client.ts";
import { createSyncHub, type SyncHub } from "../sync/hub.ts";
import { installSync } from "../sync/install.ts";
import { syncClientRoutes } from "../sync/routes.ts";
import { SYNCED_TABLES } from "../sync/tables.ts";
import {
  FaultyNetwork,
  hubApp,
  openReplica,
  PUT_STATE,
  type Replica,
  readState,
  type TempDir,
  tempDir,
} from "./support/sync-harness.ts";

/** A test-only synced table with a unique column. */
const tags = sqliteTable("tags", { id: text("id").primaryKey(), label: text("label").notNull().unique() });

describe("sync round trip: edges, hub and HTTP routes", () => {
  let dir: TempDir;
  let server: Replica;
  let hub: SyncHub;
  let net: FaultyNetwork;
  const edges: Replica[] = [];
  const clients: SyncClient[] = [];
  const edge = async (name: string, opts: { pushBatchSize?: number; pullLimit?: number } = {}) => {
    const replica = await openReplica(dir.path, name, "edge");
    const client = createSyncClient({
      ctx: replica.ctx,
      serverUrl: "http://hub.test",
      serverKey: "k",
      fetch: net.fetch,
      ...opts,
    });
    edges.push(replica);
    clients.push(client);
    return { replica, client };
  };

  beforeEach(async () => {
    dir = tempDir();
    server = await openReplica(dir.path, "server", "server");
    hub = createSyncHub(server.ctx);
    net = new FaultyNetwork(hubApp(hub));
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop()));
    for (const r of edges.splice(0)) r.close();
    server.close();
    dir.remove();
  });

  it("moves writes edge → server → edge, never echoes, and reports what moved", async () => {
    const a = await edge("a", { pushBatchSize: 2, pullLimit: 2 });
    const b = await edge("b", { pushBatchSize: 2, pullLimit: 2 });
    for (let i = 0; i < 5; i++) await a.replica.exec(PUT_STATE, [`k${i}`, `"a${i}"`, i]);
    await server.exec(PUT_STATE, ["srv", '"server"', 9]);
    expect(await a.client.syncNow()).toMatchObject({ pushed: 5, pulled: 1, skipped: 0 });
    expect(await b.client.syncNow()).toMatchObject({ pushed: 0, pulled: 6 });
    expect(await a.client.syncNow()).toMatchObject({ pushed: 0, pulled: 0 }); // its own changes do not come back
    expect(await readState(b.replica)).toEqual(await readState(server));
    expect(await readState(a.replica)).toEqual(await readState(server));
    const status = await a.client.status();
    expect(status).toMatchObject({ online: true, pendingOutbox: 0, lastError: null, lag: { changes: 0 } });
    const nodes = await hub.listNodes();
    expect(nodes.map((n) => [n.site, n.ackedSeq, n.pending, n.schemaVersion, n.lastPushAt !== null])).toEqual(
      [
        ["site-a", 5, 0, 1, true],
        ["site-b", 0, 0, 1, false],
      ],
    );
    // Over HTTP: operators read /v1/nodes; only `node` keys may replicate.
    const operator = hubApp(hub, { id: "op", role: "operator", via: "key" });
    const listed = await operator.request("/v1/nodes");
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { nodes: unknown[] }).nodes).toHaveLength(2);
    const pull = await operator.request("/v1/sync/pull?cursor=0", {
      headers: { "x-sutazai-node": "site-x" },
    });
    expect(pull.status).toBe(403);
    const bad = await hubApp(hub).request("/v1/sync/push", {
      method: "POST",
      headers: { "content-type": "application/json", "x-sutazai-node": "site-a" },
      body: JSON.stringify({ site: "site-a", schemaVersion: 1, after: 0, pending: 0, changes: [{ seq: 1 }] }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      code: "SYNC_BATCH_INVALID",
      errors: [{ path: "changes.0.tbl" }],
    });
  });

  it("a later partial update resurrects a row deleted elsewhere, with its other columns' last values", async () => {
    const a = await edge("a");
    const b = await edge("b");
    await a.replica.exec(PUT_STATE, ["k", '"v1"', 1]);
    await a.client.syncNow();
    await b.client.syncNow();
    await a.replica.exec("DELETE FROM state WHERE key = 'k'");
    await a.client.syncNow();
    await b.replica.exec("UPDATE state SET value = '\"v2\"' WHERE key = 'k'"); // b has not seen the delete
    await b.client.syncNow();
    await a.client.syncNow();
    const expected = [{ namespace: "ns", key: "k", value: '"v2"', updated_at: 1 }];
    for (const r of [server, a.replica, b.replica]) expect(await readState(r)).toEqual(expected);
    // ...and an even later delete wins again, everywhere.
    await server.exec("DELETE FROM state WHERE key = 'k'");
    await a.client.syncNow();
    await b.client.syncNow();
    for (const r of [server, a.replica, b.replica]) expect(await readState(r)).toEqual([]);
  });

  it("applies a re-sent batch once (response lost, duplicated, delivered late)", async () => {
    const a = await edge("a", { pushBatchSize: 2 });
    for (let i = 0; i < 6; i++) await a.replica.exec(PUT_STATE, [`k${i}`, `"v${i}"`, i]);
    net.plan = ["drop-response"];
    await expect(a.client.syncNow()).rejects.toThrow(/response lost/);
    net.plan = ["duplicate", "delay"];
    await expect(a.client.syncNow()).rejects.toThrow(/timeout/);
    await a.client.syncNow();
    expect(await readState(server)).toHaveLength(6);
    // Each change logged once (the log keeps a pushed batch as one entry of n changes).
    const log = await server.database.client.execute(
      "SELECT SUM(b.n) AS n FROM sync_changes c JOIN sync_log_batches b ON b.seq = c.seq WHERE c.site = 'site-a'",
    );
    expect(Number(log.rows[0]!.n)).toBe(6);
    expect((await a.client.status()).pendingOutbox).toBe(0);
  });

  it("pushes writes made while a batch is in flight, in order, and none twice", async () => {
    // The edge reads its next batch while the server applies the last one: writes landing
    // meanwhile, and a batch the server answers differently than expected, must not confuse it.
    const replica = await openReplica(dir.path, "a", "edge");
    edges.push(replica);
    let pushes = 0;
    const client = createSyncClient({
      ctx: replica.ctx,
      serverUrl: "http://hub.test",
      serverKey: "k",
      pushBatchSize: 2,
      fetch: async (url, init) => {
        if (url.includes("/v1/sync/push")) {
          pushes++;
          if (pushes <= 3) await replica.exec(PUT_STATE, [`late${pushes}`, '"x"', pushes]); // lands mid-push
          if (pushes === 2) return new Response("", { status: 413 }); // too large: the batch halves
        }
        return net.fetch(url, init);
      },
    });
    clients.push(client);
    for (let i = 0; i < 5; i++) await replica.exec(PUT_STATE, [`k${i}`, '"v"', i]);
    await client.syncNow();
    const keys = (await readState(server)).map((r) => r.key);
    expect(keys).toHaveLength(5 + 3);
    expect(new Set(keys).size).toBe(keys.length);
    expect((await client.status()).pendingOutbox).toBe(0);
    const acked = (await hub.listNodes())[0]!;
    expect(acked.ackedSeq).toBe(keys.length); // every outbox seq, acknowledged once, in order
  });

  it("re-bootstraps an edge whose cursor fell behind GC, dropping rows deleted meanwhile", async () => {
    const a = await edge("a");
    const b = await edge("b");
    await a.replica.exec(PUT_STATE, ["keep", '"1"', 1]);
    await a.replica.exec(PUT_STATE, ["gone", '"1"', 1]);
    await a.client.syncNow();
    await b.client.syncNow();
    await b.replica.exec(PUT_STATE, ["local", '"b"', 1]); // not pushed yet: must survive
    await a.replica.exec("DELETE FROM state WHERE key = 'gone'");
    await a.client.syncNow();
    // b stays away; the server collects everything (horizon 0). Every edge counts as inactive:
    // one seen in the very millisecond GC runs would count as active and hold the log back.
    await server.database.client.execute("UPDATE sync_peers SET last_seen_at = 0");
    const gc = await collectGarbage(server.ctx, 0);
    expect(gc.tombstones).toBe(1);
    const round = await b.client.syncNow();
    expect(round.rebootstrapped).toBe(true);
    expect((await readState(b.replica)).map((r) => r.key)).toEqual(["keep", "local"]);
    await a.client.syncNow();
    expect(await readState(a.replica)).toEqual(await readState(b.replica));
  });

  it("re-bootstrapping drops a row deleted meanwhile even when the edge's own last write was to it", async () => {
    const a = await edge("a");
    const b = await edge("b");
    await b.replica.exec(PUT_STATE, ["keep", '"1"', 1]);
    await b.replica.exec(PUT_STATE, ["gone", '"1"', 1]); // b's newest change: its row stays in the outbox
    await b.client.syncNow();
    await b.client.maintain(); // acknowledged, folded, pruned
    await a.client.syncNow();
    await a.replica.exec("DELETE FROM state WHERE key = 'gone'");
    await a.client.syncNow();
    await server.database.client.execute("UPDATE sync_peers SET last_seen_at = 0"); // as above
    await collectGarbage(server.ctx, 0);
    expect(await b.client.syncNow()).toMatchObject({ rebootstrapped: true });
    expect((await readState(b.replica)).map((r) => r.key)).toEqual(["keep"]);
    expect(await readState(b.replica)).toEqual(await readState(server));
  });

  it("quarantines a change that breaks a constraint instead of stalling the queue", async () => {
    // A synced table with a unique column two edges can both claim offline.
    const tables = [...SYNCED_TABLES, { table: tags, mode: "row" as const, direction: "up" as const }];
    const withTags = async (r: Replica) => {
      await r.exec("CREATE TABLE tags (id TEXT PRIMARY KEY, label TEXT NOT NULL UNIQUE)");
      r.ctx = await installSync(r.database, tables, { role: r.ctx.role, schemaVersion: 1 });
    };
    await withTags(server);
    hub = createSyncHub(server.ctx);
    net = new FaultyNetwork(hubApp(hub));
    const a = await edge("a");
    const b = await edge("b");
    for (const e of [a, b]) {
      await withTags(e.replica);
      clients[clients.indexOf(e.client)] = e.client = createSyncClient({
        ctx: e.replica.ctx,
        serverUrl: "http://hub.test",
        serverKey: "k",
        fetch: net.fetch,
      });
    }
    await a.replica.exec("INSERT INTO tags VALUES ('tag-a', 'pump')");
    await b.replica.exec("INSERT INTO tags VALUES ('tag-b', 'pump')");
    await b.replica.exec(PUT_STATE, ["after", '"x"', 1]);
    await a.client.syncNow();
    const round = await b.client.syncNow();
    expect(round).toMatchObject({ pushed: 2, quarantined: 1 });
    expect((await readState(server)).map((r) => r.key)).toEqual(["after"]);
    const q = await server.database.client.execute("SELECT kind, tbl, reason FROM sync_quarantine");
    expect(q.rows[0]).toMatchObject({ kind: "rejected", tbl: "tags" });
    expect((await hub.listNodes()).find((n) => n.site === "site-b")?.quarantined).toBe(1);
  });

  it("binds a site to the node key that first synced it; a replaced (revoked) key hands it over", async () => {
    const addKey = (id: string) =>
      server.exec(
        "INSERT INTO api_keys (id, name, prefix, secret_hash, role, created_at, created_by) VALUES (?, ?, 'sk', ?, 'node', 0, 'admin')",
        [id, `gateway ${id}`, `hash-${id}`],
      );
    await addKey("key-1");
    await addKey("key-2");
    const as = (keyId: string) =>
      new FaultyNetwork(hubApp(hub, { id: keyId, role: "node", via: "key" })).fetch;
    const replica = await openReplica(dir.path, "g", "edge");
    edges.push(replica);
    const client = (keyId: string) => {
      const c = createSyncClient({
        ctx: replica.ctx,
        serverUrl: "http://hub.test",
        serverKey: "k",
        fetch: as(keyId),
      });
      clients.push(c);
      return c;
    };
    await replica.exec(PUT_STATE, ["g", '"1"', 1]);
    await client("key-1").syncNow();
    // Another live node key cannot speak for site-g.
    await replica.exec(PUT_STATE, ["g", '"forged"', 2]);
    await expect(client("key-2").syncNow()).rejects.toMatchObject({ code: "SITE_BOUND_TO_OTHER_KEY" });
    expect((await readState(server)).find((r) => r.key === "g")?.value).toBe('"1"');
    // The gateway's old key is revoked: its new key takes the site over.
    await server.exec("UPDATE api_keys SET revoked_at = 1 WHERE id = 'key-1'");
    expect(await client("key-2").syncNow()).toMatchObject({ pushed: 1 });
    await expect(client("key-1").syncNow()).rejects.toMatchObject({ code: "SITE_BOUND_TO_OTHER_KEY" });
  });

  it("refuses crafted pushes: another node's invocations (a forged admin job) and deletes of history", async () => {
    const a = await edge("a");
    const inv =
      "INSERT INTO invocations (id, function, trigger, status, node_id, caller, queued_at) VALUES (?, 'echo', 'http', 'queued', ?, ?, 0)";
    const admin = JSON.stringify({ id: "x", role: "admin", via: "key" });
    await a.replica.exec(inv, ["mine", "site-a", admin]);
    await a.replica.exec(inv, ["forged", server.ctx.siteId, admin]); // passes for the server's own row
    expect(await a.client.syncNow()).toMatchObject({ pushed: 2, quarantined: 1 });
    const rows = await server.database.client.execute("SELECT id, node_id FROM invocations ORDER BY id");
    expect(rows.rows.map((r) => [r.id, r.node_id])).toEqual([["mine", "site-a"]]);
    const q = await server.database.client.execute("SELECT reason FROM sync_quarantine");
    expect(String(q.rows[0]!.reason)).toMatch(/must belong to the node that sends it/);

    // A hand-made batch deleting the server's history: invocations do not replicate deletes.
    const res = await hubApp(hub).request("/v1/sync/push", {
      method: "POST",
      headers: { "content-type": "application/json", "x-sutazai-node": "site-a" },
      body: JSON.stringify({
        site: "site-a",
        schemaVersion: 1,
        after: 2,
        pending: 0,
        changes: [
          {
            seq: 3,
            tbl: "invocations",
            pk: ["mine"],
            op: "delete",
            cols: null,
            hlc: "0000000000010000",
            site: "site-a",
            sv: 1,
          },
        ],
      }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ quarantined: 1 });
    expect((await server.database.client.execute("SELECT count(*) AS n FROM invocations")).rows[0]!.n).toBe(
      1,
    );
  });

  it("refuses a push that reuses the key of another node's invocation, or of one the server made", async () => {
    const a = await edge("a");
    const b = await edge("b");
    const inv =
      "INSERT INTO invocations (id, function, trigger, status, node_id, output) VALUES (?, 'echo', 'http', 'succeeded', ?, ?)";
    await server.exec(inv, ["server-made", server.ctx.siteId, '"server output"']);
    await b.replica.exec(inv, ["b-made", "site-b", '"b output"']);
    expect(await b.client.syncNow()).toMatchObject({ pushed: 1, quarantined: 0 });
    // Edge a sends rows under those ids, naming itself as their node (which alone passes).
    await a.replica.exec(inv, ["server-made", "site-a", '"forged"']);
    await a.replica.exec(inv, ["b-made", "site-a", '"forged"']);
    await a.replica.exec(inv, ["a-made", "site-a", '"a output"']);
    expect(await a.client.syncNow()).toMatchObject({ pushed: 3, quarantined: 2 });
    const rows = await server.database.client.execute(
      "SELECT id, node_id, output FROM invocations ORDER BY id",
    );
    expect(rows.rows.map((r) => [r.id, r.node_id, r.output])).toEqual([
      ["a-made", "site-a", '"a output"'],
      ["b-made", "site-b", '"b output"'],
      ["server-made", server.ctx.siteId, '"server output"'],
    ]);
    const q = await server.database.client.execute("SELECT reason FROM sync_quarantine ORDER BY id");
    expect(q.rows.map((r) => String(r.reason))).toEqual([
      expect.stringMatching(/row \["server-made"\] belongs to "site-server", not to site-a/),
      expect.stringMatching(/row \["b-made"\] belongs to "site-b", not to site-a/),
    ]);
  });

  it("keeps invocations of two edges that used the same Idempotency-Key", async () => {
    const a = await edge("a");
    const b = await edge("b");
    const inv =
      "INSERT INTO invocations (id, function, trigger, status, node_id, idempotency_key) VALUES (?, 'f', 'http', 'succeeded', ?, 'same-key')";
    await a.replica.exec(inv, ["inv-a", "site-a"]);
    await b.replica.exec(inv, ["inv-b", "site-b"]);
    await a.client.syncNow();
    expect(await b.client.syncNow()).toMatchObject({ pushed: 1, quarantined: 0 });
    const rows = await server.database.client.execute("SELECT id FROM invocations ORDER BY id");
    expect(rows.rows.map((r) => r.id)).toEqual(["inv-a", "inv-b"]);
  });

  it("holds back changes to columns an older edge does not know, and applies them after its upgrade", async () => {
    // This edge's version of `state` has no updated_at column in sync (an older schema).
    const old = await openReplica(dir.path, "old", "edge", {
      tables: [{ table: stateTable, mode: "columns", direction: "both", localColumns: ["updated_at"] }],
    });
    edges.push(old);
    const oldClient = createSyncClient({
      ctx: old.ctx,
      serverUrl: "http://hub.test",
      serverKey: "k",
      fetch: net.fetch,
    });
    await server.exec(PUT_STATE, ["k", '"v"', 7]);
    await oldClient.syncNow();
    expect(await readState(old)).toEqual([]);
    const held = await old.database.client.execute("SELECT kind, reason FROM sync_quarantine");
    expect(held.rows[0]).toMatchObject({ kind: "held" });
    expect(String(held.rows[0]!.reason)).toMatch(/unknown column.*updated_at/);
    // The upgrade: installSync with the full table list re-applies what was held.
    await installSync(old.database, SYNCED_TABLES, { role: "edge", schemaVersion: 1 });
    expect(await readState(old)).toEqual(await readState(server));
    expect((await old.database.client.execute("SELECT COUNT(*) AS n FROM sync_quarantine")).rows[0]!.n).toBe(
      0,
    );
  });

  it("takes pushes from its own schema version and the one before, and says which side to upgrade", async () => {
    const batch = (schemaVersion: number) => ({
      site: "site-x",
      schemaVersion,
      after: 0,
      pending: 0,
      changes: [],
    });
    await expect(hub.pushBatch("site-x", batch(0))).resolves.toMatchObject({ acked: 0 });
    await expect(hub.pushBatch("site-x", batch(2))).rejects.toMatchObject({ code: "SCHEMA_TOO_NEW" });
    const older = createSyncHub({ ...server.ctx, schemaVersion: 3 });
    await expect(older.pushBatch("site-x", batch(1))).rejects.toMatchObject({ code: "SCHEMA_TOO_OLD" });
  });

  it("serves GET /v1/sync/status and POST /v1/sync/now on the edge", async () => {
    const a = await edge("a");
    await a.replica.exec(PUT_STATE, ["k", '"v"', 1]);
    const app = new OpenAPIHono<AppEnv>();
    app.onError(errorHandler(silentLogger));
    const admin: Principal = { id: "admin", role: "admin", via: "key" };
    app.use("*", async (c, next) => {
      c.set("principal", admin);
      return next();
    });
    let configured: typeof a.client | undefined;
    app.route("/", syncClientRoutes({ client: () => configured }));
    const unconfigured = await app.request("/v1/sync/status");
    expect(unconfigured.status).toBe(503);
    expect(await unconfigured.json()).toMatchObject({ code: "SYNC_NOT_CONFIGURED" });
    configured = a.client;
    const before = await (await app.request("/v1/sync/status")).json();
    expect(before).toMatchObject({ pendingOutbox: 1, online: null });
    const now = await app.request("/v1/sync/now", { method: "POST" });
    expect(await now.json()).toMatchObject({ pushed: 1, pulled: 0 });
    net.offline = true;
    const down = await app.request("/v1/sync/now", { method: "POST" });
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ code: "SYNC_SERVER_UNREACHABLE" });
    expect(await (await app.request("/v1/sync/status")).json()).toMatchObject({
      online: false,
      lastError: { code: "SYNC_SERVER_UNREACHABLE" },
    });
  });
});
