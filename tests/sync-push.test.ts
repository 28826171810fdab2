import type { InStatement } from "@libsql/client";
import { describe, expect, it } from "vitest";
import { createSyncClient } from "../sync/client.ts";
import { readOutbox, upstream } from "../sync/outbox.ts";
import { asPushedChange, asWireChange, type WireChange } from "../sync/protocol.ts";
import { emptyRound, pushOutbox, type RoundDeps } from "../sync/round.ts";
import { hlcFromParts, hlcToHex } from "../sync/stamp.ts";
import { httpTransport } from "../sync/transport.ts";
import { checkPullResponse } from "../sync/validate.ts";
import { serverAndEdge } from "./support/sync-fixtures.ts";
import { hubApp, PUT_STATE, readState, stateInsert } from "./support/sync-harness.ts";

/*
 * The push path's ordering guarantees: the edge reads its outbox in seq order and reads the
 * next batch while the server applies the last; the server applies a batch in seq order.
 */
describe("sync push: order and read-ahead", () => {
  const pair = serverAndEdge("a");

  it("reads the outbox in seq order, across gaps and tables, page by page", async () => {
    const reading =
      "INSERT INTO telemetry_readings (id, device, metric, value, ts) VALUES (?, 'd', 'm', ?, ?)";
    for (let i = 0; i < 40; i++) {
      await pair.edge.exec(PUT_STATE, [`k${i % 7}`, `"v${i}"`, i]); // updates of the same rows too
      if (i % 3 === 0) await pair.edge.exec(reading, [`r${i}`, i, i]);
    }
    // Gaps: outbox rows gone from the middle (as after a partial prune).
    await pair.edge.exec("DELETE FROM sync_changes WHERE seq % 5 = 0 AND seq < 40");
    // A marker (a placeholder holding a seq, see log-seq.ts) is skipped like a gap.
    await pair.edge.exec("UPDATE sync_changes SET op = 'marker', cols = NULL WHERE seq = 44");
    const expected = (
      await pair.edge.database.client.execute(
        "SELECT seq FROM sync_changes WHERE op != 'marker' ORDER BY seq",
      )
    ).rows.map((r) => Number(r.seq));
    // A change captured under another schema version carries its own; the others leave
    // site and version to the batch.
    await pair.edge.exec("UPDATE sync_changes SET sv = sv + 1 WHERE seq = 3");
    const own = { site: pair.edge.ctx.siteId, sv: pair.edge.ctx.schemaVersion };
    const read: number[] = [];
    const long: number[] = [];
    const sizes: number[] = [];
    for (let after = 0, more = true; more; ) {
      const page = await readOutbox(pair.edge.database.client, own, after, 7, 1 << 20);
      sizes.push(page.count);
      for (const c of JSON.parse(page.json) as unknown[][]) {
        const change = asPushedChange(c, own);
        read.push(change.seq);
        if (c.length === 8) long.push(change.seq);
        expect(change.site).toBe(own.site);
      }
      [after, more] = [page.lastSeq, page.more];
    }
    expect(read).toEqual(expected);
    expect(long).toEqual([3]);
    // Every page is full but the last, whether its seqs run dense or across gaps and the marker.
    expect(sizes.slice(0, -1).every((n) => n === 7)).toBe(true);
    expect(sizes.at(-1)).toBe(expected.length % 7 || 7);
  });

  it("applies a batch in seq order whatever order it came in, refuses a repeated seq and a key of the wrong type, and records the edge", async () => {
    const hlc = (n: number) => hlcToHex(hlcFromParts(Date.now(), n));
    const change = (seq: number, key: string): WireChange =>
      stateInsert(seq, key, { value: `"${key}"`, updated_at: seq }, hlc(seq));
    const push = (changes: WireChange[]) =>
      hubApp(pair.hub).request("/v1/sync/push", {
        method: "POST",
        headers: { "content-type": "application/json", "x-sutazai-node": "site-a" },
        body: JSON.stringify({ site: "site-a", schemaVersion: 1, after: 0, pending: 0, changes }),
      });
    const twice = await push([change(1, "x"), change(1, "y")]);
    expect(twice.status).toBe(400);
    expect(await twice.json()).toMatchObject({ code: "SYNC_ORDER" });
    expect((await pair.hub.listNodes()).map((n) => n.site)).toEqual(["site-a"]); // seen, though refused

    const shuffled = await push([change(3, "c"), change(1, "a"), change(2, "b")]);
    expect(shuffled.status).toBe(200);
    expect(await shuffled.json()).toMatchObject({ acked: 3, applied: 3 });
    expect((await readState(pair.server)).map((r) => r.key)).toEqual(["a", "b", "c"]);
    const logged = await pair.server.database.client.execute("SELECT changes FROM sync_log_batches");
    expect(JSON.parse(String(logged.rows[0]!.changes))).toEqual([
      [
        "state",
        [
          ["ns", "a"],
          ["ns", "b"],
          ["ns", "c"],
        ],
      ],
    ]);

    // A key of the wrong type would name another row in the merge metadata than the one
    // SQLite stores (["ns", 1] vs the text "1"): refused, the stored row untouched.
    await pair.server.exec(PUT_STATE, ["1", '"server"', 9]);
    const wrongKey = { ...change(4, "1"), pk: ["ns", 1] as unknown as string[] };
    const refused = await hubApp(pair.hub).request("/v1/sync/push", {
      method: "POST",
      headers: { "content-type": "application/json", "x-sutazai-node": "site-a" },
      body: JSON.stringify({ site: "site-a", schemaVersion: 1, after: 3, pending: 0, changes: [wrongKey] }),
    });
    expect(await refused.json()).toMatchObject({ acked: 4, quarantined: 1 });
    expect((await readState(pair.server)).find((r) => r.key === "1")?.value).toBe('"server"');
    const reason = await pair.server.database.client.execute("SELECT reason FROM sync_quarantine");
    expect(String(reason.rows[0]!.reason)).toMatch(/key of "state" is \(namespace: text, key: text\)/);
  });

  it("refuses a batch holding a lone surrogate, which SQLite would store as invalid UTF-8, and takes a pair", async () => {
    const at = hlcToHex(hlcFromParts(Date.now()));
    const push = (key: string, after: number) =>
      hubApp(pair.hub).request("/v1/sync/push", {
        method: "POST",
        headers: { "content-type": "application/json", "x-sutazai-node": "site-a" },
        body: JSON.stringify({
          site: "site-a",
          schemaVersion: 1,
          after,
          pending: 0,
          changes: [stateInsert(after + 1, key, { value: '"v"', updated_at: 1 }, at)],
        }).replaceAll("😀", "\\ud83d\\ude00"), // a pair as escapes: the text is walked, and passes
      });
    const lone = await push("a\udc00b", 0);
    expect(lone.status).toBe(400);
    expect(await lone.json()).toMatchObject({
      code: "SYNC_BATCH_INVALID",
      errors: [{ path: "changes.0.pk.1", message: expect.stringMatching(/lone UTF-16 surrogate/) }],
    });
    expect(await (await push("pair \ud83d\ude00", 0)).json()).toMatchObject({ acked: 1, applied: 1 });
    // The server reads its rows back whole (a lone surrogate stored would abort the process here).
    expect((await readState(pair.server)).map((r) => r.key)).toEqual(["pair 😀"]);
  });

  it("merges a batch of inserts when a row turns out to exist here: the newer write wins", async () => {
    for (const k of ["k1", "k2", "k3"]) await pair.edge.exec(PUT_STATE, [k, '"edge"', 1]); // older
    await pair.server.ctx.clock.setWallOffset(60_000); // a minute later (well within the skew limit)
    await pair.server.exec(PUT_STATE, ["k2", '"server"', 2]); // newer, made on the server
    const client = createSyncClient({
      ctx: pair.edge.ctx,
      serverUrl: "http://hub.test",
      serverKey: "k",
      fetch: async (url, init) => hubApp(pair.hub).request(url, init),
    });
    expect(await client.syncNow()).toMatchObject({ pushed: 3, pulled: 1 });
    const values = (rows: Awaited<ReturnType<typeof readState>>) => rows.map((r) => [r.key, r.value]);
    expect(values(await readState(pair.server))).toEqual([
      ["k1", '"edge"'],
      ["k2", '"server"'],
      ["k3", '"edge"'],
    ]);
    expect(values(await readState(pair.edge))).toEqual(values(await readState(pair.server)));
    await client.stop();
  });

  it("finishes the round when reading ahead fails: the batch in flight is acknowledged first", async () => {
    for (let i = 0; i < 4; i++) await pair.edge.exec(PUT_STATE, [`k${i}`, '"v"', i]);
    const app = hubApp(pair.hub);
    let outboxReads = 0;
    const client = new Proxy(pair.edge.ctx.client, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop !== "execute") return typeof value === "function" ? value.bind(target) : value;
        return async (stmt: InStatement) => {
          const sql = typeof stmt === "string" ? stmt : stmt.sql;
          if (sql.includes("o.op != 'marker' AND o.seq <= ") && ++outboxReads === 2)
            throw new Error("SQLITE_BUSY");
          return target.execute(stmt);
        };
      },
    });
    const deps: RoundDeps = {
      ctx: { ...pair.edge.ctx, client },
      transport: httpTransport({
        serverUrl: "http://hub.test",
        serverKey: "k",
        siteId: pair.edge.ctx.siteId,
        schemaVersion: pair.edge.ctx.schemaVersion,
        fetch: async (url, init) => app.request(url, init),
      }),
      pullLimit: 100,
      maxBatchBytes: 1 << 20,
      batchSize: 2,
      head: null,
    };
    const round = emptyRound();
    await pushOutbox(deps, round); // the read-ahead of the 2nd batch fails; it is read again
    expect(round.pushed).toBe(4);
    expect((await upstream(pair.edge.database.client)).ackedSeq).toBe(4);
    expect((await pair.hub.listNodes())[0]!.ackedSeq).toBe(4);
    expect(outboxReads).toBeGreaterThanOrEqual(3); // the failed read-ahead, and the read after it
  });

  it("takes changes in either form and sends a pull's changes compact only to an edge that asks", async () => {
    const hlc = hlcToHex(hlcFromParts(Date.now()));
    const app = hubApp(pair.hub);
    const push = (changes: unknown[]) =>
      app.request("/v1/sync/push", {
        method: "POST",
        headers: { "content-type": "application/json", "x-sutazai-node": "site-a" },
        body: JSON.stringify({ site: "site-a", schemaVersion: 1, after: 0, pending: 0, changes }),
      });
    const short = await push([
      [1, "state", ["ns", "t"], "insert", { value: '"t"', updated_at: 1 }, hlc, "site-a"],
    ]);
    expect(short.status).toBe(400);
    expect(JSON.stringify(await short.json())).toContain(
      "a compact change is [seq, tbl, pk, op, cols, hlc, site, sv] or [seq, tbl, pk, op, cols, hlc]",
    );
    const mixed = await push([
      [1, "state", ["ns", "t"], "insert", { value: '"t"', updated_at: 1 }, hlc], // site and sv: the batch's
      stateInsert(2, "o", { value: '"o"', updated_at: 2 }, hlc),
    ]);
    expect(await mixed.json()).toMatchObject({ acked: 2, applied: 2 });
    const pull = async (query: string) => {
      const res = await app.request(`/v1/sync/pull?cursor=0${query}`, {
        headers: { "x-sutazai-node": "site-b" },
      });
      return ((await res.json()) as { changes: unknown[] }).changes;
    };
    const objects = await pull("");
    expect(objects).toHaveLength(2);
    // Rendered from the row, with its log entry's seq (2); an entry's rows need not come in push order.
    expect(objects.find((c) => (c as WireChange).pk[1] === "t")).toEqual(
      stateInsert(2, "t", { value: '"t"', updated_at: 1 }, hlc),
    );
    // A short tuple means "the batch's site": a pull page has none, so it is refused there.
    const sixFields = [1, "state", ["ns", "t"], "insert", { value: '"t"', updated_at: 1 }, hlc];
    const page = { rebootstrap: false, changes: [sixFields], next: 1, head: 1, more: false, serverSite: "s" };
    expect(checkPullResponse(page)).toMatchObject({ ok: false, errors: [{ path: "changes.0" }] });
    const compact = await pull("&compact=1");
    expect(compact.map((c) => asWireChange(c))).toEqual(objects);
    expect(compact.every(Array.isArray)).toBe(true);
  });
});
