import { createClient } from "@libsql/client";
import { describe, expect, it } from "vitest";
import { applyRemote } from "../sync/apply.ts";
import { rowKey } from "../sync/spec.ts";
import { hlcFromParts, hlcToHex } from "../sync/stamp.ts";
import { serverAndEdge } from "./support/sync-fixtures.ts";
import { readState, stateInsert } from "./support/sync-harness.ts";

/*
 * The fast path for a batch of first inserts (sync/fresh-inserts.ts) writes the rows' stamps
 * under the key SQLite reads from the batch's JSON text, without rowKey(). Every other path
 * looks rows up by rowKey(): the two must be the same text, or one row would get two stamp
 * records and merge against the wrong one.
 */
const awkward: unknown[][] = [
  ["ns", 'quote " and \\ backslash'],
  ["ns", "\u0001 control \n\t and \u2028"],
  ["ns", "é ü 😀 astral"],
  ["ns", ""],
];

const hlc = (agoMs: number) => hlcToHex(hlcFromParts(Date.now() - agoMs));

describe("sync: a batch of first inserts", () => {
  const pair = serverAndEdge("a");

  it("keys SQLite reads from JSON text are rowKey's, for every kind of key value", async () => {
    // (also what lets the change log's keys entries hold key values: see log-render.ts)
    const zoo: unknown[][] = [
      ...awkward,
      [0.1, 1e21, -0, 1.5e-7, 2 ** 53 + 2, 123456789012345680000, "\udc00 lone surrogate"],
      [1, 2.0, -3, null, true, false],
    ];
    const db = createClient({ url: ":memory:" });
    try {
      const rs = await db.execute({
        sql: "SELECT value->0 AS k FROM json_each(?)",
        args: [JSON.stringify(zoo.map((pk) => [pk, "stamp"]))],
      });
      expect(rs.rows.map((r) => r.k)).toEqual(zoo.map(rowKey));
      // The same for a list of keys, as a keys entry of the change log holds them (GC reads it so).
      const listed = await db.execute({
        sql: "SELECT value AS k FROM json_each(?)",
        args: [JSON.stringify(zoo)],
      });
      expect(listed.rows.map((r) => r.k)).toEqual(zoo.map(rowKey));
    } finally {
      db.close();
    }
  });

  it("gives rows with awkward keys one stamp record each, that later changes merge with", async () => {
    const first = hlc(60_000);
    const inserts = awkward.map((pk, i) =>
      stateInsert(i + 1, String(pk[1]), { value: '"old"', updated_at: 1 }, first),
    );
    expect(await applyRemote(pair.server.ctx, { from: "site-a", changes: inserts })).toMatchObject({
      applied: awkward.length,
    });
    // Updates take the general path, which finds the stamps by rowKey(): one is newer, one older.
    const later = hlc(30_000);
    const earlier = hlc(90_000);
    const updates = inserts.map((insert, i) => ({
      ...insert,
      seq: 10 + i,
      op: "update" as const,
      cols: { value: i % 2 ? '"newer"' : '"older"' },
      hlc: i % 2 ? later : earlier,
    }));
    await applyRemote(pair.server.ctx, { from: "site-a", changes: updates });
    const stored = await pair.server.database.client.execute(
      "SELECT pk FROM sync_versions WHERE tbl = 'state' ORDER BY pk",
    );
    expect(stored.rows.map((r) => r.pk)).toEqual(awkward.map(rowKey).sort());
    const byKey = new Map((await readState(pair.server)).map((r) => [r.key, r.value]));
    expect(awkward.map((pk) => byKey.get(String(pk[1])))).toEqual(['"old"', '"newer"', '"old"', '"newer"']);
  });

  it("merges a row that comes twice in one batch: the newer write wins, in either order", async () => {
    const older = hlc(60_000);
    const newer = hlc(30_000);
    const changes = [
      stateInsert(1, "twice", { value: '"newer"', updated_at: 2 }, newer),
      stateInsert(2, "once", { value: '"only"', updated_at: 1 }, older),
      stateInsert(3, "twice", { value: '"older"', updated_at: 1 }, older),
      stateInsert(4, "again", { value: '"older"', updated_at: 1 }, older),
      stateInsert(5, "again", { value: '"newer"', updated_at: 2 }, newer),
    ];
    expect(await applyRemote(pair.server.ctx, { from: "site-a", changes })).toMatchObject({ applied: 3 });
    expect((await readState(pair.server)).map((r) => [r.key, r.value])).toEqual([
      ["again", '"newer"'],
      ["once", '"only"'],
      ["twice", '"newer"'],
    ]);
    const stamps = await pair.server.database.client.execute("SELECT COUNT(*) AS n FROM sync_versions");
    expect(Number(stamps.rows[0]!.n)).toBe(3);
  });
});
