import type { Exec } from "./clock.ts";
import type { WireChange } from "./protocol.ts";
import { insertUniformVersions, upsertValues } from "./rows.ts";
import { type ResolvedTable, rowKey } from "./spec.ts";
import { stampOf } from "./stamp.ts";

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
  /** rowKey of each change's primary key, in the same order */
  keys: string[];
}

/**
 * The changes as FreshInserts if they qualify: every one an insert writing every replicated
 * column of a table that has no per-site target (receiveInto) or owner check, each row once.
 */
export function asFreshInserts(t: ResolvedTable, changes: WireChange[]): FreshInserts | undefined {
  if (t.mode === "insert-only" || t.into || t.ownerColumn || t.cols.length === 0) return undefined;
  const keys: string[] = [];
  const seen = new Set<string>();
  for (const c of changes) {
    if (c.op !== "insert" || !c.cols) return undefined;
    let n = 0; // classify() let through only known columns: all of them here means every one
    for (const name in c.cols) if (Object.hasOwn(c.cols, name)) n++;
    if (n !== t.cols.length) return undefined;
    const key = rowKey(c.pk);
    if (seen.has(key)) return undefined;
    seen.add(key);
    keys.push(key);
  }
  return { t, changes, keys };
}

/**
 * Records the rows' stamps, touching no existing row, and writes the rows. Returns false,
 * having written nothing, if any of them already had stamps here.
 */
export async function applyFreshInserts(tx: Exec, fresh: FreshInserts): Promise<boolean> {
  const { t, changes, keys } = fresh;
  await tx.execute("SAVEPOINT sync_fresh_inserts");
  const stamps = changes.map((c, i): [string, string, null] => [keys[i]!, stampOf(c.hlc, c.site), null]);
  const names = t.mode === "row" ? "*" : t.cols.join(",");
  if ((await insertUniformVersions(tx, t, names, stamps)) !== changes.length) {
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
