import type { Exec } from "./clock.ts";
import type { WireChange } from "./protocol.ts";
import { chunks, insertUniformVersionsJson, upsertValues } from "./rows.ts";
import type { ResolvedTable } from "./spec.ts";
import { stampOf } from "./stamp.ts";
import { uniformColumns } from "./stored-stamps.ts";

/*
 * The common shape of a batch after a reconnect: one table's changes are all inserts of
 * whole rows, each row once, that have no stamps here (never seen, or stored before sync
 * was set up: values without stamps count as oldest). merge(nothing, insert) is the insert
 * itself, so such rows need no merge state in JS: their stamps and values go from the
 * wire changes straight into the two bulk statements. apply.ts takes this path when a table's
 * part of a batch has that shape, and falls back to the general one (load, merge, write)
 * when some row turns out to exist here after all.
 */
export interface FreshInserts {
  t: ResolvedTable;
  changes: WireChange[];
}

/**
 * The changes as FreshInserts if they qualify: every one an insert writing every replicated
 * column of a table that has no per-site target (receiveInto) or owner check. (A row twice
 * in the batch is found by applyFreshInserts, as a row that exists is.)
 */
export function asFreshInserts(t: ResolvedTable, changes: WireChange[]): FreshInserts | undefined {
  if (t.mode === "insert-only" || t.into || t.ownerColumn || t.cols.length === 0) return undefined;
  for (const c of changes) {
    if (c.op !== "insert" || !c.cols) return undefined;
    let n = 0; // classify() let through only known columns: all of them here means every one
    for (const name in c.cols) if (Object.hasOwn(c.cols, name)) n++;
    if (n !== t.cols.length) return undefined;
  }
  return { t, changes };
}

/**
 * Records the rows' stamps, touching no existing row, and writes the rows. Returns false,
 * having written nothing, if any of them already had stamps here or came twice.
 *
 * The stamps' row key is the pk's JSON text as SQLite reads it (`value->0` of [pk, hlc]),
 * which is the text JSON.stringify wrote, i.e. rowKey(pk) (a test pins that): it is not
 * computed here. (The values go in a JSON text of their own: SQLite parses all of a text,
 * and one shared by both statements was slower than two.)
 */
export async function applyFreshInserts(tx: Exec, fresh: FreshInserts): Promise<boolean> {
  const { t, changes } = fresh;
  await tx.execute("SAVEPOINT sync_fresh_inserts");
  let claimed = 0;
  for (const part of chunks(changes)) {
    // A push is one edge's changes: its site is bound once (the stamp's tail, ":<site>"),
    // not written into every row's stamp.
    const site = part[0]!.site;
    const oneSite = part.every((c) => c.site === site);
    const stamps = JSON.stringify(part.map((c) => [c.pk, oneSite ? c.hlc : stampOf(c.hlc, c.site)]));
    const paths = { key: "value->0", stamp: oneSite ? "(value->>1 || ?3)" : "value->>1", del: "NULL" };
    const tail = oneSite ? [stampOf("", site)] : [];
    claimed += await insertUniformVersionsJson(tx, t, uniformColumns(t), stamps, paths, tail);
  }
  if (claimed !== changes.length) {
    await tx.execute("ROLLBACK TO sync_fresh_inserts");
    await tx.execute("RELEASE sync_fresh_inserts");
    return false;
  }
  await tx.execute("RELEASE sync_fresh_inserts");
  // A row that predates sync has no stamps either and its values count as oldest: the
  // upsert is what merge() would decide for it too.
  await upsertValues(
    tx,
    t,
    t.cols,
    changes.map((c) => {
      const row: unknown[] = [...c.pk];
      for (const name of t.cols) row.push(c.cols![name]);
      return row;
    }),
  );
  return true;
}
