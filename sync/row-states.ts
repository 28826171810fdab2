import type { Exec } from "./clock.ts";
import type { SnapshotRow } from "./protocol.ts";
import { type ResolvedTable, sqlIdent } from "./spec.ts";
import { parseStamps } from "./stored-stamps.ts";

/**
 * Rows of a synced table as the server holds them, each with its full replicated state:
 * every column's value with its stamp ("" for a value older than sync), and the tombstone.
 * A row not in its table (deleted, or not yet complete) takes its values from
 * sync_versions.vals. `where` filters `v` (sync_versions) after `v.tbl = ?`; `tail` orders
 * and limits. What a snapshot page holds, and what a pull renders a logged batch from.
 */
export async function loadRowStates(
  exec: Exec,
  t: ResolvedTable,
  where: string,
  args: Array<string | number>,
  tail = "",
): Promise<SnapshotRow[]> {
  const join = t.pk.map((c, i) => `t.${sqlIdent(c)} = v.pk->>${i}`).join(" AND ");
  const rowJson = `json_object(${t.cols.map((c) => `'${c}', t.${sqlIdent(c)}`).join(", ")})`;
  const rs = await exec.execute({
    sql:
      // (ordered in the aggregate itself: a snapshot's next page starts after the last key)
      "SELECT json_group_array(json_array(v.pk, v.stamps, v.del, " +
      `CASE WHEN t.${sqlIdent(t.pk[0]!)} IS NOT NULL THEN ${rowJson} ELSE json(v.vals) END) ORDER BY v.pk) AS j FROM ` +
      `(SELECT * FROM sync_versions v WHERE v.tbl = ? AND ${where} ${tail}) v LEFT JOIN ${sqlIdent(t.name)} t ON ${join}`,
    args: [t.name, ...args],
  });
  const rows = JSON.parse(String(rs.rows[0]!.j ?? "[]")) as Array<
    [string, string, string | null, Record<string, unknown> | null]
  >;
  return rows.map(([pk, stampsJson, del, values]) => {
    const stamps = parseStamps(t, stampsJson);
    const source = values ?? {};
    const cols: SnapshotRow["cols"] = {};
    for (const c of t.cols)
      if (Object.hasOwn(source, c))
        cols[c] = [source[c] as never, (t.mode === "row" ? stamps["*"] : stamps[c]) ?? ""];
    const row: SnapshotRow = { tbl: t.name, pk: JSON.parse(pk), cols };
    if (del !== null) row.del = del;
    return row;
  });
}
