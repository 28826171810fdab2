import type { Exec } from "./clock.ts";
import type { SyncContext } from "./install.ts";
import { writeTransaction } from "./lane.ts";
import { HEAD_SEQ_SQL } from "./log-seq.ts";
import type { ResolvedTable } from "./spec.ts";
import { assertUniformColumns, stampsObjectSql, uniformColumns } from "./stored-stamps.ts";

/*
 * Folds this replica's own captured changes into sync_versions (the stamps merge compares).
 * Triggers only append to sync_changes — keeping every write cheap — and this catches the
 * metadata up in bulk, inside the transaction of whatever needs it next: applying remote
 * changes, collecting garbage, serving a snapshot, dropping acknowledged outbox rows.
 *
 * For a replica's own changes, merge() reduces to "overwrite": the HLC ticks past every
 * stamp the replica has stored (local or received), so each local change carries the
 * newest stamps its row has seen. Folding is therefore a JSON patch of the stamps, in seq
 * order, which SQLite does in one statement per table without a round trip through JS.
 */

function foldSql(t: ResolvedTable): string {
  const stamp = "printf('%016x', c.hlc) || ':' || c.site";
  // The columns an insert or update wrote, each with the change's stamp; a whole-row table
  // keeps one stamp for the row.
  const written =
    t.mode === "row"
      ? `json_object('*', ${stamp})`
      : `(SELECT json_group_object(key, ${stamp}) FROM json_each(c.cols))`;
  return (
    "INSERT INTO sync_versions (tbl, pk, stamps, del, vals) " +
    `SELECT c.tbl, c.pk, CASE WHEN c.op = 'delete' THEN '{}' ELSE ${written} END, ` +
    // A delete's row values go to its tombstone; any later change put the row back in its table.
    `CASE WHEN c.op = 'delete' THEN ${stamp} END, CASE WHEN c.op = 'delete' THEN c.cols END ` +
    "FROM sync_changes c WHERE c.seq > ? AND c.seq <= ? AND c.site = ? AND c.tbl = ? ORDER BY c.seq " +
    // (a uniform stamps string becomes an object first: patching a string replaces it)
    `ON CONFLICT (tbl, pk) DO UPDATE SET stamps = json_patch(${stampsObjectSql("stamps", uniformColumns(t))}, excluded.stamps), ` +
    "del = coalesce(excluded.del, del), vals = excluded.vals"
  );
}

/** Catches sync_versions up with sync_changes; returns how many changes were folded. Run in a write transaction. */
export async function foldLocal(tx: Exec, ctx: SyncContext): Promise<number> {
  const rs = await tx.execute(`SELECT folded_seq, ${HEAD_SEQ_SQL} AS head FROM sync_clock WHERE id = 1`);
  const from = Number(rs.rows[0]!.folded_seq);
  const head = Number(rs.rows[0]!.head);
  // Every write of stamps folds first (apply does, before merging): the one place to check
  // that this process's columns are the database's (stored-stamps.ts).
  await assertUniformColumns(tx, ctx.tables);
  if (head <= from) return 0;
  // One pass over the range says which tables have local changes in it (on the server the
  // range is mostly remote changes appended to the log: often none).
  const local = await tx.execute({
    sql: "SELECT DISTINCT tbl FROM sync_changes WHERE seq > ? AND seq <= ? AND site = ?",
    args: [from, head, ctx.siteId],
  });
  const tables = new Set(local.rows.map((r) => String(r.tbl)));
  let folded = 0;
  // Edge → server tables need no stamps on the edge: nothing is ever merged into them there.
  for (const t of ctx.tables.filter((t) => t.versioned && t.direction !== "up" && tables.has(t.name))) {
    folded += (await tx.execute({ sql: foldSql(t), args: [from, head, ctx.siteId, t.name] })).rowsAffected;
  }
  await tx.execute({ sql: "UPDATE sync_clock SET folded_seq = ? WHERE id = 1", args: [head] });
  return folded;
}

/** Folds in its own write transaction (maintenance, or before serving a snapshot). */
export function foldNow(ctx: SyncContext): Promise<number> {
  return writeTransaction(ctx.client, (tx) => foldLocal(tx, ctx));
}

/** Whether this replica has changes of its own that are not folded into sync_versions yet. */
async function hasUnfolded(exec: Exec, ctx: SyncContext): Promise<boolean> {
  const rs = await exec.execute({
    sql: "SELECT EXISTS (SELECT 1 FROM sync_changes WHERE seq > (SELECT folded_seq FROM sync_clock WHERE id = 1) AND site = ?) AS behind",
    args: [ctx.siteId],
  });
  return Number(rs.rows[0]!.behind) === 1;
}

/**
 * Runs `read` in a read transaction whose snapshot has every local change folded into the
 * stamps, so values read from the tables and the stamps read beside them agree (a pull
 * renders rows from both). A local write landing between the fold and the snapshot sends
 * it round again; on a server that keeps writing, the third round reads as it finds it
 * (a value rendered then under an older stamp comes again with its own log entry, later in
 * the log, with its own stamp).
 */
export async function readFolded<T>(ctx: SyncContext, read: (exec: Exec) => Promise<T>): Promise<T> {
  for (let round = 1; ; round++) {
    if (await hasUnfolded(ctx.client, ctx)) await foldNow(ctx);
    const tx = await ctx.client.transaction("read");
    try {
      if (round < 3 && (await hasUnfolded(tx, ctx))) continue;
      return await read(tx);
    } finally {
      tx.close();
    }
  }
}
