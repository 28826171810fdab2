import { join } from "node:path";
import type { Client } from "@libsql/client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Database, openDatabase } from "../runtime/db.ts";
import { applyMigrations } from "../runtime/migrate.ts";
import { collectGarbage } from "../sync/changelog.ts";
import { createSyncClient, type SyncClient } from "../sync/client.ts";
import { createSyncHub } from "../sync/hub.ts";
import { installSync } from "../sync/install.ts";
import { SYNCED_TABLES } from "../sync/tables.ts";
import { REPO_ROOT, spawnNode } from "./support/spawn-node.ts";
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

const INSTALL_CHILD = join(REPO_ROOT, "tests", "support", "install-sync-child.ts");

// sync_changes numbers rows as a plain rowid (max + 1): emptying the outbox or collecting
// the log must never let a seq come round again, or acknowledged and pulled cursors would
// silently skip new changes.
const seqs = async (r: Replica) =>
  (await r.database.client.execute("SELECT seq FROM sync_changes ORDER BY seq")).rows.map((x) =>
    Number(x.seq),
  );

describe("change-log sequence numbers", () => {
  let dir: TempDir;
  let server: Replica;
  let edge: Replica;
  let other: Replica;
  let clients: SyncClient[];
  const connect = (r: Replica, net: FaultyNetwork) =>
    createSyncClient({ ctx: r.ctx, serverUrl: "http://hub.test", serverKey: "k", fetch: net.fetch });

  beforeEach(async () => {
    dir = tempDir();
    server = await openReplica(dir.path, "server", "server");
    edge = await openReplica(dir.path, "edge", "edge");
    other = await openReplica(dir.path, "other", "edge");
    clients = [];
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    for (const r of [server, edge, other]) r.close();
    dir.remove();
  });

  it("keep growing after an edge's outbox is acknowledged and emptied", async () => {
    const net = new FaultyNetwork(hubApp(createSyncHub(server.ctx)));
    const [a, b] = [connect(edge, net), connect(other, net)];
    clients.push(a, b);
    for (let i = 0; i < 3; i++) await edge.exec(PUT_STATE, [`k${i}`, `"v${i}"`, i]);
    expect(await a.syncNow()).toMatchObject({ pushed: 3 });
    await a.maintain(); // folds and drops the acknowledged rows
    expect(await seqs(edge)).toEqual([3]); // the newest row stays: it holds the numbering
    await edge.exec(PUT_STATE, ["k9", '"after"', 9]);
    expect(await seqs(edge)).toEqual([3, 4]);
    expect((await a.status()).pendingOutbox).toBe(1);
    expect(await a.syncNow()).toMatchObject({ pushed: 1 });
    expect(await b.syncNow()).toMatchObject({ pulled: 4 });
    expect(await readState(other)).toEqual(await readState(edge));
  });

  it("keep growing on the server after GC collects the whole log", async () => {
    const net = new FaultyNetwork(hubApp(createSyncHub(server.ctx)));
    const a = connect(edge, net);
    clients.push(a);
    await server.exec(PUT_STATE, ["s1", '"one"', 1]);
    await server.exec(PUT_STATE, ["s2", '"two"', 2]);
    expect(await a.syncNow()).toMatchObject({ pulled: 2 });
    const gc = await collectGarbage(server.ctx, 0);
    expect(gc.changes).toBe(1); // everything the edge has pulled, but the newest row
    await server.exec(PUT_STATE, ["s3", '"three"', 3]);
    expect(await seqs(server)).toEqual([2, 3]);
    expect(await a.syncNow()).toMatchObject({ pulled: 1, rebootstrapped: false });
    expect(await readState(edge)).toEqual(await readState(server));
  });

  /** A database whose outbox earlier versions made: AUTOINCREMENT, rows 1..5 of which 1..3 and 5 were deleted. */
  async function oldOutbox(path: string): Promise<Database> {
    const database = await openDatabase(path);
    await applyMigrations(database);
    const c = database.client;
    await c.execute(
      "CREATE TABLE sync_changes (seq integer PRIMARY KEY AUTOINCREMENT NOT NULL, tbl text NOT NULL, pk text NOT NULL, " +
        "op text NOT NULL, cols text, hlc integer NOT NULL, site text NOT NULL, sv integer NOT NULL)",
    );
    for (let i = 1; i <= 5; i++)
      await c.execute({
        sql: "INSERT INTO sync_changes (tbl, pk, op, cols, hlc, site, sv) VALUES ('state', ?, 'insert', '{}', ?, 'old', 1)",
        args: [`["ns","k${i}"]`, i],
      });
    await c.execute("DELETE FROM sync_changes WHERE seq IN (1, 2, 3, 5)");
    return database;
  }

  /** The outbox after the upgrade and one more captured write: rows kept, numbering kept. */
  async function expectUpgraded(c: Client): Promise<void> {
    const table = await c.execute("SELECT sql FROM sqlite_master WHERE name = 'sync_changes'");
    expect(String(table.rows[0]!.sql)).not.toMatch(/AUTOINCREMENT/i);
    await c.execute({ sql: PUT_STATE, args: ["k6", '"six"', 6] });
    const rows = await c.execute("SELECT seq, op, pk FROM sync_changes ORDER BY seq");
    expect(rows.rows.map((r) => [Number(r.seq), r.op])).toEqual([
      [4, "insert"],
      [5, "marker"], // holds the deleted seq 5, so the next write is 6
      [6, "insert"],
    ]);
  }

  it("an outbox created with AUTOINCREMENT is rebuilt at start, keeping its rows and numbering", async () => {
    const database = await oldOutbox(`${dir.path}/old.db`);
    try {
      const c = database.client;
      await installSync(database, SYNCED_TABLES, { role: "edge", siteId: "old", schemaVersion: 1 });
      await expectUpgraded(c);
      // A second start finds nothing to upgrade and the triggers still capture.
      await installSync(database, SYNCED_TABLES, { role: "edge", siteId: "old", schemaVersion: 1 });
      await c.execute({ sql: PUT_STATE, args: ["k7", '"seven"', 7] });
      expect(Number((await c.execute("SELECT max(seq) AS m FROM sync_changes")).rows[0]!.m)).toBe(7);
    } finally {
      database.close();
    }
  });

  it("two processes starting on one old database at once both succeed and leave it upgraded", async () => {
    const path = `${dir.path}/shared.db`;
    (await oldOutbox(path)).close();
    const starts = [0, 1].map(() => spawnNode(["--import", "tsx", INSTALL_CHILD, path]));
    const exits = await Promise.all(starts.map((s) => s.exited));
    // (with what the process printed, should it fail)
    for (const [i, exit] of exits.entries()) {
      expect({ ...exit, stderr: starts[i]!.stderr() }).toMatchObject({ code: 0 });
    }
    const database = await openDatabase(path);
    try {
      await expectUpgraded(database.client);
    } finally {
      database.close();
    }
  }, 30_000);
});
