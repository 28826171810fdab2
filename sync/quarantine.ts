import type { Transaction } from "@libsql/client";
import type { SyncContext } from "./install.ts";
import type { SnapshotRow, WireChange } from "./protocol.ts";
import { type ResolvedTable, receives, rowKey } from "./spec.ts";

/*
 * Changes a replica cannot apply are set aside in sync_quarantine instead of failing their
 * batch — one bad change must not stall the queue behind it. "held": this version does not
 * know the table or a column yet (a newer peer sent it); retried after an upgrade.
 * "rejected": it can never apply here (wrong direction, a constraint violation); kept for
 * an operator, counted in GET /v1/nodes.
 */
export interface Quarantined {
  change: WireChange | SnapshotRow;
  kind: "held" | "rejected";
  reason: string;
}

/** Checks that this replica can take a change for `tbl` with these columns (the keys of `cols`); quarantines it otherwise. */
export function classify(
  ctx: SyncContext,
  tbl: string,
  cols: Record<string, unknown> | null | undefined,
  change: WireChange | SnapshotRow,
  out: Quarantined[],
): ResolvedTable | undefined {
  const t = ctx.table(tbl);
  if (!t) {
    out.push({
      change,
      kind: "held",
      reason: `table "${tbl}" is not synced by this node's version (held until an upgrade)`,
    });
    return undefined;
  }
  if (!receives(ctx.role, t)) {
    out.push({
      change,
      kind: "rejected",
      reason: `table "${tbl}" only flows ${t.direction === "up" ? "edge → server" : "server → edge"}`,
    });
    return undefined;
  }
  const refused = keyRefusal(t, change.pk) ?? ("op" in change ? refusal(t, change) : undefined);
  if (refused) {
    out.push({ change, kind: "rejected", reason: refused });
    return undefined;
  }
  let unknown: string[] | undefined; // (built only when needed: this runs once per change)
  for (const c in cols) {
    if (t.cols.includes(c)) continue;
    unknown ??= [];
    unknown.push(c);
  }
  if (unknown) {
    out.push({
      change,
      kind: "held",
      reason: `unknown column(s) ${unknown.join(", ")} of "${tbl}" (held until an upgrade)`,
    });
    return undefined;
  }
  return t;
}

/**
 * A key must have the table's key columns, each value of its column's type: the key is also
 * the row's identity in the merge metadata (its JSON text), and ["ns", 1] would name another
 * row there than the ["ns", "1"] SQLite stores in a text column, escaping the row's stamps.
 */
function keyRefusal(t: ResolvedTable, pk: readonly unknown[]): string | undefined {
  const fits =
    pk.length === t.pk.length &&
    pk.every((v, i) => (t.pkTypes[i] === "text" ? typeof v === "string" : Number.isSafeInteger(v)));
  if (fits) return undefined;
  return `the key of "${t.name}" is (${t.pk.map((c, i) => `${c}: ${t.pkTypes[i]}`).join(", ")}), not ${JSON.stringify(pk)}`;
}

/**
 * What a well-behaved peer never sends, checked because a node key could craft it: deletes
 * of a table that does not replicate them, and rows that name another node as their owner.
 */
function refusal(t: ResolvedTable, change: WireChange): string | undefined {
  if (change.op === "delete") {
    return t.captureDeletes ? undefined : `"${t.name}" does not replicate deletes`;
  }
  if (!t.ownerColumn) return undefined;
  const owner = change.cols?.[t.ownerColumn];
  if (owner === change.site) return undefined;
  return `a "${t.name}" row must belong to the node that sends it (${t.ownerColumn} = ${JSON.stringify(owner ?? null)}, sent by ${change.site})`;
}

/**
 * Sets changes aside. A held change already held here (the same row, op and stamp: the same
 * write, as a pull renders it again for every log entry naming its row) is not kept twice.
 */
export async function writeQuarantine(tx: Transaction, from: string, items: Quarantined[]): Promise<void> {
  for (const q of items) {
    const site = "site" in q.change ? q.change.site : from;
    const args = [
      Date.now(),
      q.kind,
      site,
      q.change.tbl,
      rowKey(q.change.pk),
      JSON.stringify(q.change),
      q.reason.slice(0, 1000),
    ];
    const insert =
      "INSERT INTO sync_quarantine (at, kind, site, tbl, pk, change, reason) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7";
    if (q.kind === "held" && "op" in q.change) {
      await tx.execute({
        sql:
          `${insert} WHERE NOT EXISTS (SELECT 1 FROM sync_quarantine WHERE kind = 'held' AND site = ?3 AND tbl = ?4 ` +
          "AND pk = ?5 AND change->>'op' = ?8 AND change->>'hlc' = ?9)",
        args: [...args, q.change.op, q.change.hlc],
      });
    } else await tx.execute({ sql: insert, args });
  }
}

export function isConstraintError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return String(e?.code ?? "").includes("CONSTRAINT") || /constraint failed/i.test(String(e?.message ?? ""));
}
