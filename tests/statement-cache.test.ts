import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Database, openDatabase } from "../runtime/db.ts";
import { CACHED_STATEMENTS, statementCacheStats } from "../runtime/statement-cache.ts";

// Reused prepared statements must behave exactly like fresh ones: same results, schema
// changes seen, errors not sticking to the statement, DROP TABLE not blocked.
describe("prepared-statement cache", () => {
  let dir: string;
  let database: Database;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "sutazai-stmt-"));
    database = await openDatabase(join(dir, "db.sqlite"));
    await database.client.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)");
  });
  afterEach(() => {
    database.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const exec = (sql: string, args: Array<string | number> = []) => database.client.execute({ sql, args });

  it("serves a repeated statement from the cache, with fresh results each time", async () => {
    const insert = "INSERT INTO t (id, name) VALUES (?, ?)";
    const count = "SELECT COUNT(*) AS n FROM t";
    await exec(insert, [1, "a"]);
    const before = { ...statementCacheStats };
    for (let i = 2; i <= 5; i++) {
      await exec(insert, [i, `n${i}`]);
      expect(Number((await exec(count)).rows[0]!.n)).toBe(i);
    }
    expect(statementCacheStats.hits - before.hits).toBeGreaterThanOrEqual(7);
  });

  it("a statement that failed works again with good input", async () => {
    const insert = "INSERT INTO t (id, name) VALUES (?, ?)";
    await exec(insert, [1, "a"]);
    await expect(exec(insert, [2, "a"])).rejects.toThrow(/UNIQUE/);
    await exec(insert, [3, "b"]);
    expect((await exec("SELECT name FROM t ORDER BY id")).rows.map((r) => r.name)).toEqual(["a", "b"]);
  });

  it("sees schema changes and does not block DROP TABLE", async () => {
    const select = "SELECT * FROM t";
    await exec("INSERT INTO t (id, name) VALUES (1, 'a')");
    expect((await exec(select)).columns).toEqual(["id", "name"]);
    await exec("ALTER TABLE t ADD COLUMN extra TEXT DEFAULT 'x'");
    const after = await exec(select);
    expect(after.columns).toEqual(["id", "name", "extra"]);
    expect(after.rows[0]!.extra).toBe("x");
    const returning = "INSERT INTO t (id, name) VALUES (?, ?) RETURNING *";
    expect((await exec(returning, [2, "b"])).rows[0]!.extra).toBe("x");
    await exec("ALTER TABLE t ADD COLUMN more TEXT DEFAULT 'y'");
    expect((await exec(returning, [3, "c"])).rows[0]!.more).toBe("y");
    await exec("DROP TABLE t");
    await expect(exec(select)).rejects.toThrow(/no such table/);
    await exec("CREATE TABLE t (other TEXT)");
    expect((await exec(select)).columns).toEqual(["other"]);
  });

  it.each([
    [
      "one statement at a time",
      async (sql: string[]) => {
        for (const s of sql) await exec(s);
      },
    ],
    ["as one script", (sql: string[]) => database.client.executeMultiple(sql.join(";\n"))],
  ])(
    "names columns as the current schema does after a table is dropped and recreated (%s)",
    async (_, run) => {
      const select = "SELECT name FROM t";
      await exec("INSERT INTO t (id, name) VALUES (1, 'a')");
      const before = await exec(select);
      expect(before.columns).toEqual(["name"]);
      expect(before.columnTypes).toEqual(["TEXT"]);
      await run(["/* rebuilt */ DROP TABLE t", "-- new case\n  CREATE TABLE t (NAME INTEGER)"]);
      await exec("INSERT INTO t (NAME) VALUES (7)");
      const after = await exec(select);
      expect(after.columns).toEqual(["NAME"]);
      expect(after.columnTypes).toEqual(["INTEGER"]);
      expect(after.rows[0]!.NAME).toBe(7);
    },
  );

  it("caches statements whose `*` multiplies or counts, not those where it stands for columns", async () => {
    const counts = async (sql: string) => {
      const before = { ...statementCacheStats };
      await exec(sql);
      await exec(sql);
      return statementCacheStats.hits - before.hits;
    };
    expect(await counts("SELECT 6 * 7 AS n, COUNT(*) AS c FROM t")).toBe(1);
    expect(await counts("SELECT * FROM t")).toBe(0);
    expect(await counts('SELECT "t".* FROM t')).toBe(0);
    expect(await counts("SELECT id, t.* FROM t")).toBe(0);
    expect(await counts("SELECT DISTINCT * FROM t")).toBe(0);
    expect(await counts("SELECT ALL * FROM t")).toBe(0);
    expect(await counts("SELECT /* every column */ * FROM t")).toBe(0);
    expect(await counts("SELECT -- every column\n * FROM t")).toBe(0);
  });

  it("binds NULL, not the last run's value, to a parameter a later run leaves out", async () => {
    const pair = "SELECT ? AS a, ? AS b";
    expect((await exec(pair, [1, 2])).rows[0]).toMatchObject({ a: 1, b: 2 });
    expect((await exec(pair, [3])).rows[0]).toMatchObject({ a: 3, b: null });
    expect((await exec(pair, [4, 5])).rows[0]).toMatchObject({ a: 4, b: 5 });
  });

  it("keeps a bounded number of statements per connection, least recently used out first", async () => {
    const first = "SELECT 1 AS one";
    await exec(first);
    for (let i = 0; i < CACHED_STATEMENTS + 10; i++) {
      // Distinct SQL each time; every pooled connection may have served some of them.
      await exec(`SELECT ${i} AS n`);
    }
    const before = { ...statementCacheStats };
    await exec(first);
    expect(statementCacheStats.misses - before.misses).toBe(1);
  });
});
