import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyRemote } from "../sync/apply.ts";
import { installSync } from "../sync/install.ts";
import { SYNCED_TABLES } from "../sync/tables.ts";
import {
  openReplica,
  ownChanges,
  PUT_STATE,
  type Replica,
  readState,
  stateInsert,
  type TempDir,
  tempDir,
} from "./support/sync-harness.ts";

describe("sync capture (triggers)", () => {
  let dir: TempDir;
  let edge: Replica;
  let server: Replica;
  beforeEach(async () => {
    dir = tempDir();
    edge = await openReplica(dir.path, "edge", "edge");
    server = await openReplica(dir.path, "server", "server");
  });
  afterEach(() => {
    edge.close();
    server.close();
    dir.remove();
  });

  it("turns raw SQL inserts, updates and deletes into outbox rows with only the changed columns", async () => {
    await edge.exec(PUT_STATE, ["a", '"one"', 1]);
    await edge.exec("UPDATE state SET value = '\"two\"' WHERE key = 'a'");
    await edge.exec("UPDATE state SET value = '\"two\"' WHERE key = 'a'"); // changes nothing: not captured
    await edge.exec("UPDATE state SET key = 'b' WHERE key = 'a'"); // a new key is another row
    await edge.exec("DELETE FROM state WHERE key = 'b'");
    const changes = await ownChanges(edge, 0);
    expect(changes.map((c) => [c.op, c.pk, c.cols])).toEqual([
      ["insert", '["ns","a"]', { value: '"one"', updated_at: 1 }],
      ["update", '["ns","a"]', { value: '"two"' }],
      ["delete", '["ns","a"]', { value: '"two"', updated_at: 1 }], // a delete keeps the last values, for its tombstone
      ["insert", '["ns","b"]', { value: '"two"', updated_at: 1 }],
      ["delete", '["ns","b"]', { value: '"two"', updated_at: 1 }],
    ]);
    // Stamps strictly increase: each is a fresh HLC tick of this site.
    const stamps = changes.map((c) => c.stamp);
    expect([...stamps].sort()).toEqual(stamps);
    expect(new Set(stamps).size).toBe(stamps.length);
    expect(stamps.every((s) => s.endsWith(":site-edge"))).toBe(true);
  });

  it("captures each table only on the side that sends it", async () => {
    const invocation =
      "INSERT INTO invocations (id, function, trigger, status, node_id) VALUES (?, 'f', 'http', 'running', 'n')";
    const reading =
      "INSERT INTO telemetry_readings (id, device, metric, value, ts) VALUES (?, 'd', 'temp', 21.5, 1)";
    for (const r of [edge, server]) {
      await r.exec(invocation, ["i1"]);
      await r.exec("UPDATE invocations SET status = 'succeeded' WHERE id = 'i1'");
      await r.exec(reading, ["t1"]);
      await r.exec("DELETE FROM telemetry_readings"); // local pruning never replicates
      await r.exec("DELETE FROM invocations");
    }
    const onEdge = await ownChanges(edge, 0);
    expect(onEdge.map((c) => [c.tbl, c.op])).toEqual([
      ["invocations", "insert"],
      ["invocations", "update"],
      ["telemetry_readings", "insert"],
    ]);
    // Row-level LWW: an update carries the whole row.
    expect(Object.keys(onEdge[1]!.cols!)).toContain("function");
    expect(await ownChanges(server, 0)).toEqual([]);
  });

  it("does not capture remote changes while applying them", async () => {
    const hlc = (await edge.ctx.clock.now()).toString(16).padStart(16, "0");
    await applyRemote(edge.ctx, {
      from: "test",
      changes: [stateInsert(1, "remote", { value: "1", updated_at: 5 }, hlc, "site-other")],
    });
    expect(await readState(edge)).toEqual([{ namespace: "ns", key: "remote", value: "1", updated_at: 5 }]);
    expect(await ownChanges(edge, 0)).toEqual([]);
    const flag = await edge.database.client.execute("SELECT applying FROM sync_clock");
    expect(flag.rows[0]!.applying).toBe(0);
    // A local write afterwards is captured again, stamped after the remote change.
    await edge.exec("UPDATE state SET value = '2' WHERE key = 'remote'");
    const [local] = await ownChanges(edge, 0);
    expect(local!.stamp > `${hlc}:site-other`).toBe(true);
  });

  it("is idempotent, and captures rows that existed before sync was installed", async () => {
    const plain = await openReplica(dir.path, "plain", "edge", { tables: [] });
    await plain.exec(PUT_STATE, ["old", "1", 1]);
    const ctx = await installSync(plain.database, SYNCED_TABLES, { role: "edge", schemaVersion: 1 });
    await installSync(plain.database, SYNCED_TABLES, { role: "edge", schemaVersion: 1 });
    await plain.exec(PUT_STATE, ["new", "2", 2]);
    const rs = await plain.database.client.execute("SELECT op, pk FROM sync_changes ORDER BY seq");
    expect(rs.rows.map((r) => [r.op, r.pk])).toEqual([
      ["insert", '["ns","old"]'],
      ["insert", '["ns","new"]'],
    ]);
    expect(ctx.siteId).toBe("site-plain");
    plain.close();
  });
});
