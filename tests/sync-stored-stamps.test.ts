import { sqliteTable, text } from "drizzle-orm/sqlite-core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyRemote } from "../sync/apply.ts";
import { foldNow } from "../sync/fold.ts";
import { createSyncHub } from "../sync/hub.ts";
import { installSync } from "../sync/install.ts";
import type { WireChange } from "../sync/protocol.ts";
import type { SyncedTableSpec } from "../sync/spec.ts";
import { hlcFromParts, hlcToHex } from "../sync/stamp.ts";
import { SYNCED_TABLES } from "../sync/tables.ts";
import { openReplica, type Replica, type TempDir, tempDir } from "./support/sync-harness.ts";

// A row one write made whole is stored with one stamp for all its columns. These tests pin
// what that must not change: a column the table gains later has no stamp in such a row, and
// a local write to one column keeps the others' stamps.
const gadgets = sqliteTable("gadgets", {
  id: text("id").primaryKey(),
  name: text("name"),
  color: text("color"),
});
const v1: SyncedTableSpec[] = [
  ...SYNCED_TABLES,
  { table: gadgets, mode: "columns", direction: "both", localColumns: ["color"] },
];
const v2: SyncedTableSpec[] = [...SYNCED_TABLES, { table: gadgets, mode: "columns", direction: "both" }];

const hlc = (agoMs: number) => hlcToHex(hlcFromParts(Date.now() - agoMs));
const change = (
  site: string,
  op: WireChange["op"],
  cols: Record<string, string>,
  at: string,
): WireChange => ({
  seq: 1,
  tbl: "gadgets",
  pk: ["g1"],
  op,
  cols,
  hlc: at,
  site,
  sv: 1,
});

describe("stamps of rows written whole", () => {
  let dir: TempDir;
  let server: Replica;
  const older = hlc(60_000);
  const newer = hlc(30_000);

  beforeEach(async () => {
    dir = tempDir();
    server = await openReplica(dir.path, "server", "server");
    await server.exec("CREATE TABLE gadgets (id TEXT PRIMARY KEY, name TEXT, color TEXT)");
    server.ctx = await installSync(server.database, v1, { role: "server", schemaVersion: 1 });
  });
  afterEach(() => {
    server.close();
    dir.remove();
  });

  const gadget = async () =>
    (await server.database.client.execute("SELECT id, name, color FROM gadgets")).rows.map((r) => ({ ...r }));

  it("gives a column the table gains later no stamp in rows written before", async () => {
    // Written whole while `color` was local: the stamp covers `name` only.
    await applyRemote(server.ctx, {
      from: "site-a",
      changes: [change("site-a", "insert", { name: "pump" }, newer)],
    });
    const stored = await server.database.client.execute(
      "SELECT stamps FROM sync_versions WHERE tbl = 'gadgets'",
    );
    expect(JSON.parse(String(stored.rows[0]!.stamps))).toBe(`${newer}:site-a`); // one stamp, every column
    server.ctx = await installSync(server.database, v2, { role: "server", schemaVersion: 2 }); // `color` syncs now

    // An older write to the new column wins (it had no stamp); one to `name` still loses.
    const b = await applyRemote(server.ctx, {
      from: "site-b",
      changes: [change("site-b", "update", { color: "red", name: "valve" }, older)],
    });
    expect(b.applied).toBe(1);
    expect(await gadget()).toEqual([{ id: "g1", name: "pump", color: "red" }]);
  });

  it("refuses to apply in a process started before another one changed the table's columns", async () => {
    const before = server.ctx; // knows `name` only
    server.ctx = await installSync(server.database, v2, { role: "server", schemaVersion: 2 });
    await expect(
      applyRemote(before, { from: "site-a", changes: [change("site-a", "insert", { name: "pump" }, newer)] }),
    ).rejects.toMatchObject({ status: 503, code: "SYNC_RESTART_NEEDED" });
    expect(await gadget()).toEqual([]);
    await applyRemote(server.ctx, {
      from: "site-a",
      changes: [change("site-a", "insert", { name: "pump", color: "red" }, newer)],
    });
    expect(await gadget()).toEqual([{ id: "g1", name: "pump", color: "red" }]);
  });

  it("hands a snapshot every column's stamp, and records the columns on a database from before", async () => {
    // A database from before the one-stamp form has no uniform_cols: installSync adds it.
    await server.exec("ALTER TABLE sync_tables DROP COLUMN uniform_cols");
    server.ctx = await installSync(server.database, v2, { role: "server", schemaVersion: 1 });
    const recorded = await server.database.client.execute(
      "SELECT uniform_cols FROM sync_tables WHERE tbl = 'gadgets'",
    );
    expect(recorded.rows[0]!.uniform_cols).toBe("name,color");
    await applyRemote(server.ctx, {
      from: "site-a",
      changes: [change("site-a", "insert", { name: "pump", color: "blue" }, newer)],
    });
    const page = await createSyncHub(server.ctx).snapshot("site-b", null, 100);
    const stamp = `${newer}:site-a`;
    expect(page.rows.filter((r) => r.tbl === "gadgets")).toEqual([
      { tbl: "gadgets", pk: ["g1"], cols: { name: ["pump", stamp], color: ["blue", stamp] } },
    ]);
  });

  it("keeps the other columns' stamps when a local write changes one", async () => {
    server.ctx = await installSync(server.database, v2, { role: "server", schemaVersion: 1 });
    await applyRemote(server.ctx, {
      from: "site-a",
      changes: [change("site-a", "insert", { name: "pump", color: "blue" }, newer)],
    });
    await server.exec("UPDATE gadgets SET name = 'fan' WHERE id = 'g1'");
    await foldNow(server.ctx);
    // `color` keeps site-a's stamp: an older write to it loses, as one to `name` does.
    await applyRemote(server.ctx, {
      from: "site-b",
      changes: [change("site-b", "update", { name: "valve", color: "red" }, older)],
    });
    expect(await gadget()).toEqual([{ id: "g1", name: "fan", color: "blue" }]);
  });
});
