import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keywordQuery, MAX_RANKED } from "../functions/knowledge/keyword.ts";
import { createTableStatements, tableNames } from "../functions/knowledge/tables.ts";
import { type Database, openDatabase } from "../runtime/db.ts";

// The keyword plan on an FTS table where "common" and "usual" are in every row and "rare"
// in a few: ranking stays bounded (MAX_RANKED rows) whatever the query.
let database: Database;
const t = tableNames("0190a3c2-7b1e-7cc0-8000-000000000001", 1);
const ROWS = MAX_RANKED + 500;

beforeAll(async () => {
  database = await openDatabase(":memory:");
  await database.client.batch(createTableStatements(t, 4), "write");
  const rows = Array.from({ length: ROWS }, (_, i) => `common usual row${i}${i % 1000 === 0 ? " rare" : ""}`);
  for (let i = 0; i < rows.length; i += 500)
    await database.client.execute({
      sql: `INSERT INTO ${t.ftsTable} (rowid, text, heading) VALUES ${rows
        .slice(i, i + 500)
        .map(() => "(?, ?, '[]')")
        .join(", ")}`,
      args: rows.slice(i, i + 500).flatMap((text, j) => [i + j + 1, text]),
    });
});
afterAll(() => database.close());

const plan = (...terms: string[]) => keywordQuery(database.client, t.ftsTable, terms);

describe("keyword plan", () => {
  it("ranks every term when few rows match", async () => {
    expect(await plan("rare", "row7")).toEqual({ match: '"rare" OR "row7"', minRowid: 0 });
    expect(await plan()).toBeUndefined();
  });

  it("drops terms too common to rank when rarer ones are there", async () => {
    expect(await plan("common", "rare", "usual")).toEqual({ match: '"rare"', minRowid: 0 });
  });

  it("ranks only the newest MAX_RANKED matches of a query made of common terms", async () => {
    expect(await plan("common", "usual")).toEqual({
      match: '"common" AND "usual"',
      minRowid: ROWS - MAX_RANKED + 1,
    });
    const rs = await database.client.execute({
      sql: `SELECT count(*) AS n FROM ${t.ftsTable} WHERE ${t.ftsTable} MATCH '"common" AND "usual"' AND rowid >= ?`,
      args: [ROWS - MAX_RANKED + 1],
    });
    expect(rs.rows[0]!.n).toBe(MAX_RANKED);
  });

  it("quotes terms: FTS5 syntax in a query is text, not operators", async () => {
    expect(await plan('x"y', "NEAR")).toEqual({ match: '"x""y" OR "NEAR"', minRowid: 0 });
  });
});
