import type { InStatement, TransactionMode } from "@libsql/client";
import { describe, expect, it } from "vitest";
import { collectGarbage, headSeq, readLogJson } from "../sync/changelog.ts";
import { createSyncClient } from "../sync/client.ts";
import { asWireChange } from "../sync/protocol.ts";
import { rowKey } from "../sync/spec.ts";
import { hlcFromHex, hlcFromParts, hlcToHex } from "../sync/stamp.ts";
import { SYNCED_TABLES } from "../sync/tables.ts";
import { syncRig } from "./support/sync-fixtures.ts";
import { hubApp, openReplica, PUT_STATE, readState, stateInsert } from "./support/sync-harness.ts";

/*
 * The server logs a pushed batch as ONE change-log entry that takes n positions and names
 * the rows it touched: pages, cursors, lag and GC still count changes, and a pull renders
 * the rows' state as changes.
 */
describe("sync change log: a pushed batch is one entry of n changes", () => {
  const rig = syncRig();
  const edge = (name: string, pushBatchSize = 3) => rig.edge(name, { pushBatchSize });
  const page = (after: number, limit: number, maxBytes = 1 << 20) =>
    readLogJson(rig.server.ctx, rig.server.database.client, {
      after,
      upTo: Number.MAX_SAFE_INTEGER,
      exceptSite: "nobody",
      limit,
      maxBytes,
    });
  const changes = (json: string) => (JSON.parse(json) as unknown[]).map((c) => asWireChange(c));
  const keys = (json: string) => changes(json).map((c) => c.pk[1]);

  it("logs each push as one entry whose seq advances the log by its size", async () => {
    const a = await edge("a", 3);
    for (let i = 0; i < 7; i++) await a.replica.exec(PUT_STATE, [`a${i}`, `"v${i}"`, i]);
    await a.client.syncNow();
    const entries = await rig.server.database.client.execute(
      "SELECT c.seq, c.op, c.site, b.n FROM sync_changes c JOIN sync_log_batches b ON b.seq = c.seq ORDER BY c.seq",
    );
    expect(entries.rows.map((r) => [Number(r.seq), r.op, r.site, Number(r.n)])).toEqual([
      [3, "keys", "site-a", 3],
      [6, "keys", "site-a", 3],
      [7, "keys", "site-a", 1],
    ]);
    expect(await headSeq(rig.server.database.client)).toBe(7);
    // The server's own write goes after them, one position.
    await rig.server.exec(PUT_STATE, ["srv", '"s"', 1]);
    expect(await headSeq(rig.server.database.client)).toBe(8);
  });

  it("pages hold whole batches, in log order, and stop at the change limit or byte budget", async () => {
    const a = await edge("a", 3);
    for (let i = 0; i < 3; i++) await a.replica.exec(PUT_STATE, [`a${i}`, '"x"', i]);
    await a.client.syncNow(); // entry 1..3
    await rig.server.exec(PUT_STATE, ["srv", '"s"', 1]); // entry 4 (a row of its own)
    for (let i = 3; i < 6; i++) await a.replica.exec(PUT_STATE, [`a${i}`, '"x"', i]);
    await a.client.syncNow(); // entry 5..7

    const all = await page(0, 100);
    expect(keys(all.json)).toEqual(["a0", "a1", "a2", "srv", "a3", "a4", "a5"]);
    expect(all).toMatchObject({ count: 7, lastSeq: 7, more: false });

    // A limit inside the second batch stops before it; a limit below one batch still gets it whole.
    expect(await page(0, 4)).toMatchObject({ count: 4, lastSeq: 4, more: true });
    const first = await page(0, 2);
    expect(keys(first.json)).toEqual(["a0", "a1", "a2"]);
    expect(first).toMatchObject({ count: 3, lastSeq: 3, more: true });
    const rest = await page(4, 2);
    expect(keys(rest.json)).toEqual(["a3", "a4", "a5"]);
    expect(rest).toMatchObject({ count: 3, lastSeq: 7 });
    expect(await page(7, 2)).toMatchObject({ json: "[]", count: 0, lastSeq: 7, more: false });

    // The byte budget counts whole entries too: one entry per page here.
    expect(await page(0, 100, 10)).toMatchObject({ count: 3, lastSeq: 3, more: true });
  });

  it("a pull renders the rows' state as changes, and leaves out the puller's own", async () => {
    const a = await edge("a", 2);
    const b = await edge("b", 2);
    for (let i = 0; i < 5; i++) await a.replica.exec(PUT_STATE, [`a${i}`, `"a${i}"`, i]);
    await a.replica.exec("DELETE FROM state WHERE key = 'a1'");
    await b.replica.exec(PUT_STATE, ["b0", '"b"', 1]);
    expect(await a.client.syncNow()).toMatchObject({ pushed: 6 });
    const pulled = changes((await page(0, 100)).json);
    // Batches [a0 a1] [a2 a3] [a4, delete a1]: a1 is rendered as it is now, deleted, with
    // the values its tombstone keeps, once in the page though two entries name it.
    const a1 = pulled.filter((c) => c.pk[1] === "a1").map((c) => c.op);
    expect(a1).toEqual(["delete", "update"]);
    expect(pulled.filter((c) => c.pk[1] !== "a1").map((c) => [c.op, c.pk[1]])).toEqual([
      ["insert", "a0"],
      ["insert", "a2"],
      ["insert", "a3"],
      ["insert", "a4"],
    ]);
    expect(pulled.every((c) => c.site === "site-a")).toBe(true); // the writer, from the stamps
    expect(await b.client.syncNow()).toMatchObject({ pushed: 1, pulled: 6 });
    expect(await a.client.syncNow()).toMatchObject({ pulled: 1 }); // b's change, not its own
    expect(await readState(a.replica)).toEqual(await readState(rig.server));
    expect(await readState(b.replica)).toEqual(await readState(rig.server));
  });

  it("counts an edge's lag in changes, and GC drops a batch with its log entry", async () => {
    const a = await edge("a", 4);
    const b = await edge("b");
    await b.client.syncNow(); // b is known, level with the empty log
    for (let i = 0; i < 10; i++) await a.replica.exec(PUT_STATE, [`a${i}`, '"x"', i]);
    await a.client.syncNow(); // 3 entries: 4 + 4 + 2
    const lagOf = async (site: string) =>
      (await rig.hub.listNodes()).find((n) => n.site === site)!.lag.changes;
    expect(await lagOf("site-b")).toBe(10);
    expect(await lagOf("site-a")).toBe(0); // its own changes do not count
    // The server learns an edge's cursor from its next pull.
    await b.client.syncNow();
    await b.client.syncNow();
    await a.client.syncNow();
    expect(await lagOf("site-b")).toBe(0);

    const gc = await collectGarbage(rig.server.ctx, 0);
    expect(gc.gcSeq).toBe(10);
    // The newest entry stays (it holds the numbering, sync/log-seq.ts); its batch with it.
    const left = await rig.server.database.client.execute("SELECT seq FROM sync_log_batches ORDER BY seq");
    expect(left.rows.map((r) => Number(r.seq))).toEqual([10]);
    await a.replica.exec(PUT_STATE, ["after", '"x"', 1]);
    await a.client.syncNow();
    expect(await b.client.syncNow()).toMatchObject({ pulled: 1, rebootstrapped: false });
  });

  it("renders a row changed since its push as it is now: one change per column stamp", async () => {
    const a = await edge("a");
    const b = await edge("b");
    await a.replica.exec(PUT_STATE, ["x", '"from a"', 1]);
    await a.client.syncNow();
    // The server then writes one column of the row: its columns now carry two stamps.
    await rig.server.exec("UPDATE state SET value = '\"from the server\"' WHERE key = 'x'");
    // (through the hub, which folds the server's own writes into the stamps before a page)
    const page = await rig.hub.pull("site-b", 0, 100);
    const pulled = (page.rebootstrap ? [] : page.changes).filter((c) => c.pk[1] === "x");
    // The keys entry renders both writes; the server's own write follows as its own entry.
    expect(pulled.map((c) => [c.op, Object.keys(c.cols ?? {}).sort(), c.site])).toEqual([
      ["update", ["value"], "site-server"],
      ["update", ["updated_at"], "site-a"],
      ["update", ["value"], "site-server"],
    ]);
    await b.client.syncNow();
    expect(await readState(b.replica)).toEqual(await readState(rig.server));
    expect((await readState(b.replica))[0]).toMatchObject({ value: '"from the server"', updated_at: 1 });
  });

  it("keeps a tombstone a log entry still names until every edge has pulled it", async () => {
    const a = await edge("a");
    const b = await edge("b");
    await a.replica.exec(PUT_STATE, ["gone", '"x"', 1]);
    await a.client.syncNow();
    await b.client.syncNow(); // b has the row
    await a.replica.exec("DELETE FROM state WHERE key = 'gone'");
    await a.client.syncNow();
    const tombstones = async () =>
      Number(
        (
          await rig.server.database.client.execute(
            "SELECT COUNT(*) AS n FROM sync_versions WHERE del IS NOT NULL",
          )
        ).rows[0]!.n,
      );
    // The tombstone is past a 1 ms horizon, and b, active, has yet to pull the delete's entry:
    // only b's cursor decides (a's last sight is past the horizon).
    await new Promise((resolve) => setTimeout(resolve, 10));
    const bActive = () =>
      rig.server.exec("UPDATE sync_peers SET last_seen_at = ? WHERE site = 'site-b'", [Date.now() + 60_000]);
    await bActive();
    expect(await collectGarbage(rig.server.ctx, 1)).toMatchObject({ tombstones: 0 });
    expect(await tombstones()).toBe(1);
    await b.client.syncNow(); // the server records the cursor b sends: still before the delete
    expect(await readState(b.replica)).toEqual([]);
    await bActive();
    expect(await collectGarbage(rig.server.ctx, 1)).toMatchObject({ tombstones: 0 });
    await b.client.syncNow(); // now past it
    await bActive();
    expect(await collectGarbage(rig.server.ctx, 1)).toMatchObject({ tombstones: 1 });
    expect(await tombstones()).toBe(0);
  });

  it("still serves entries logged as the changes themselves (before keys entries)", async () => {
    const b = await edge("b");
    const hlc = hlcToHex(hlcFromParts(Date.now()));
    const old = [stateInsert(1, "old", { value: '"v"', updated_at: 5 }, hlc)];
    await rig.server.exec(
      "INSERT INTO sync_changes (seq, tbl, pk, op, cols, hlc, site, sv) VALUES (1, '', '[]', 'batch', NULL, ?, 'site-a', 1)",
      [hlcFromHex(hlc)],
    );
    await rig.server.exec("INSERT INTO sync_log_batches (seq, n, changes) VALUES (1, 1, ?)", [
      JSON.stringify(old),
    ]);
    expect(changes((await page(0, 100)).json)).toEqual(old);
    expect(await b.client.syncNow()).toMatchObject({ pulled: 1 });
    expect(await readState(b.replica)).toEqual([
      { namespace: "ns", key: "old", value: '"v"', updated_at: 5 },
    ]);
  });

  it("still renders keys entries that name rows by their rowKey text, and GC keeps what they name", async () => {
    const a = await edge("a");
    const b = await edge("b");
    await b.client.syncNow(); // b is known, its cursor before everything below
    await a.replica.exec(PUT_STATE, ["kept", '"x"', 1]);
    await a.replica.exec(PUT_STATE, ["gone", '"x"', 1]);
    await a.client.syncNow();
    await a.replica.exec("DELETE FROM state WHERE key = 'gone'");
    await a.client.syncNow();
    const before = changes((await page(0, 100)).json);
    // Entries as the version before key values wrote them: each key as its rowKey text.
    const stored = await rig.server.database.client.execute("SELECT seq, changes FROM sync_log_batches");
    for (const r of stored.rows) {
      const entry = JSON.parse(String(r.changes)) as Array<[string, unknown[][]]>;
      const old = entry.map(([tbl, keys]) => [tbl, keys.map((k) => rowKey(k))]);
      await rig.server.exec("UPDATE sync_log_batches SET changes = ? WHERE seq = ?", [
        JSON.stringify(old),
        Number(r.seq),
      ]);
    }
    expect(changes((await page(0, 100)).json)).toEqual(before);
    await new Promise((resolve) => setTimeout(resolve, 10));
    await rig.server.exec("UPDATE sync_peers SET last_seen_at = ? WHERE site = 'site-b'", [
      Date.now() + 60_000,
    ]);
    expect(await collectGarbage(rig.server.ctx, 1)).toMatchObject({ tombstones: 0 });
    expect(await b.client.syncNow()).toMatchObject({ pulled: 3 });
    expect((await readState(b.replica)).map((r) => r.key)).toEqual(["kept"]);
  });

  it("renders a page from one snapshot with the server's own writes in the stamps", async () => {
    const a = await edge("a");
    await a.replica.exec(PUT_STATE, ["x", '"from a"', 1]);
    await a.client.syncNow();
    // A write on the server lands after the fold and before the page's snapshot.
    const client = rig.server.database.client;
    const open = client.transaction.bind(client);
    let landed = false;
    client.transaction = (async (mode?: TransactionMode) => {
      if (mode === "read" && !landed) {
        landed = true;
        await rig.server.exec("UPDATE state SET value = '\"from the server\"' WHERE key = 'x'");
      }
      return open(mode);
    }) as typeof client.transaction;
    const page = await rig.hub.pull("site-b", 0, 100);
    expect(landed).toBe(true);
    const fromEntry = (page.rebootstrap ? [] : page.changes).filter((c) => c.seq === 1);
    // The value goes with the server's stamp, never with a's.
    expect(fromEntry.map((c) => [c.site, c.cols])).toEqual([
      ["site-server", { value: '"from the server"' }],
      ["site-a", { updated_at: 1 }],
    ]);
  });

  it("reads the contents of the entries a page sends only", async () => {
    const a = await edge("a", 2);
    for (let i = 0; i < 40; i++) await a.replica.exec(PUT_STATE, [`k${i}`, '"x"', i]);
    await a.client.syncNow(); // 20 entries of 2
    const rows: number[] = [];
    const exec = {
      execute: async (stmt: InStatement) => {
        const rs = await rig.server.database.client.execute(stmt);
        if (typeof stmt !== "string" && stmt.sql.includes("THEN b.changes")) rows.push(rs.rows.length);
        return rs;
      },
    };
    const opts = { after: 0, upTo: 40, exceptSite: "nobody", maxBytes: 1 << 20 };
    expect(await readLogJson(rig.server.ctx, exec, { ...opts, limit: 4 })).toMatchObject({
      count: 4,
      lastSeq: 4,
      more: true,
    });
    expect(rows).toEqual([2]);
  });

  it("holds a change an older edge cannot apply once, however many entries name its row", async () => {
    const a = await edge("a");
    // c runs an older version that does not sync state.updated_at yet.
    const tables = SYNCED_TABLES.map((t) =>
      t.table === SYNCED_TABLES[0]!.table ? { ...t, localColumns: ["updated_at"] } : t,
    );
    const c = await openReplica(rig.dir.path, "c", "edge", { tables });
    const cClient = createSyncClient({
      ctx: c.ctx,
      serverUrl: "http://hub.test",
      serverKey: "k",
      fetch: async (url, init) => hubApp(rig.hub).request(url, init),
    });
    try {
      await a.replica.exec(PUT_STATE, ["x", '"v0"', 1]);
      await a.client.syncNow();
      for (let i = 1; i <= 4; i++) {
        await a.replica.exec("UPDATE state SET value = ? WHERE key = 'x'", [`"v${i}"`]);
        await a.client.syncNow();
        if (i === 2) await cClient.syncNow(); // one page of three entries naming x, and later another
      }
      await cClient.syncNow();
      const held = await c.database.client.execute("SELECT change FROM sync_quarantine WHERE kind = 'held'");
      expect(held.rows.map((r) => JSON.parse(String(r.change)).cols)).toEqual([{ updated_at: 1 }]);
    } finally {
      await cClient.stop();
      c.close();
    }
  });
});
