import type { Transaction } from "@libsql/client";
import { AppError } from "../runtime/errors.ts";
import { applyRemote } from "./apply.ts";
import { headSeq } from "./changelog.ts";
import { foldLocal } from "./fold.ts";
import type { SyncContext } from "./install.ts";
import { writeStatement, writeTransaction } from "./lane.ts";
import { ACKED_SQL } from "./outbox.ts";
import type { SnapshotPage, SnapshotRow } from "./protocol.ts";
import { loadRowStates } from "./row-states.ts";
import { type ResolvedTable, receives, sends, sqlIdent } from "./spec.ts";

/*
 * Re-bootstrap: an edge whose pull cursor fell behind the change-log GC copies the server's
 * full replicated state (row values WITH their stamps and tombstones) page by page, then
 * pulls the log from the position taken before the first page. Pages need not be a
 * consistent cut: merge is idempotent and commutative, so replaying the log over a fuzzy
 * snapshot converges all the same.
 */

interface PageToken {
  t: string;
  k: string;
}

function parseToken(after: string | null): PageToken | null {
  if (!after) return null;
  try {
    const token = JSON.parse(after) as PageToken;
    if (typeof token.t === "string" && typeof token.k === "string") return token;
  } catch {}
  throw new AppError(
    400,
    "SNAPSHOT_TOKEN_INVALID",
    "`after` must be a page token returned by a previous snapshot page.",
  );
}

/** Server: one page of the state of every table the server sends, in (table, key) order. */
export async function readSnapshotPage(
  ctx: SyncContext,
  after: string | null,
  limit: number,
): Promise<SnapshotPage> {
  const cursor = await headSeq(ctx.client); // taken before reading: later changes come by pull
  const tables = ctx.tables.filter((t) => t.versioned && sends(ctx.role, t));
  const token = parseToken(after);
  let index = token ? tables.findIndex((t) => t.name === token.t) : 0;
  if (index < 0)
    throw new AppError(400, "SNAPSHOT_TOKEN_INVALID", `Unknown table in the page token: ${token?.t}.`);
  let fromKey = token?.k ?? "";
  const rows: SnapshotRow[] = [];
  let last: PageToken | null = null;
  while (index < tables.length && rows.length < limit) {
    const t = tables[index]!;
    const page = await readTable(ctx, t, fromKey, limit - rows.length);
    rows.push(...page);
    if (page.length > 0) last = { t: t.name, k: JSON.stringify(page[page.length - 1]!.pk) };
    if (rows.length < limit) {
      index++;
      fromKey = "";
    }
  }
  const done = index >= tables.length;
  return { rows, cursor, next: done || !last ? null : JSON.stringify(last), serverSite: ctx.siteId };
}

function readTable(
  ctx: SyncContext,
  t: ResolvedTable,
  afterKey: string,
  limit: number,
): Promise<SnapshotRow[]> {
  return loadRowStates(ctx.client, t, "v.pk > ?", [afterKey, limit], "ORDER BY v.pk LIMIT ?");
}

/**
 * Edge: replaces local knowledge with the server's snapshot. Rows the snapshot lacks that
 * came from sync (they have stamps) and have no unpushed local change are deleted — their
 * tombstones were collected on the server. Rows that never synced (no stamps) are kept.
 * `finish` records the new pull cursor in the sweep's transaction.
 */
export async function rebootstrap(
  ctx: SyncContext,
  fetchPage: (after: string | null) => Promise<SnapshotPage>,
  finish: (tx: Transaction, cursor: number, serverSite: string) => Promise<void>,
): Promise<{ rows: number }> {
  await writeStatement(ctx.client, "DELETE FROM sync_bootstrap");
  let after: string | null = null;
  let first: SnapshotPage | undefined;
  let count = 0;
  do {
    const page: SnapshotPage = await fetchPage(after);
    first ??= page;
    count += page.rows.length;
    await applyRemote(ctx, {
      from: "server",
      rows: page.rows,
      record: async (tx) => {
        for (let i = 0; i < page.rows.length; i += 500) {
          const part = page.rows.slice(i, i + 500);
          await tx.execute({
            sql: `INSERT OR IGNORE INTO sync_bootstrap (tbl, pk) VALUES ${part.map(() => "(?, ?)").join(", ")}`,
            args: part.flatMap((r) => [r.tbl, JSON.stringify(r.pk)]),
          });
        }
      },
    });
    after = page.next;
  } while (after);
  await writeTransaction(ctx.client, async (tx) => {
    await tx.execute("UPDATE sync_clock SET applying = 1 WHERE id = 1");
    await foldLocal(tx, ctx);
    for (const t of ctx.tables.filter((t) => t.versioned && receives(ctx.role, t))) {
      // Gone: not in the snapshot, and no write of ours the server has yet to receive (outbox
      // rows up to the acknowledged seq stay a while, folded or kept as the newest: the server
      // has those, and if the row is not in its snapshot it deleted it since).
      const gone =
        "SELECT v.pk FROM sync_versions v WHERE v.tbl = ? AND v.pk NOT IN (SELECT pk FROM sync_bootstrap WHERE tbl = ?) " +
        `AND v.pk NOT IN (SELECT pk FROM sync_changes WHERE tbl = ? AND seq > ${ACKED_SQL})`;
      const key = `json_array(${t.pk.map(sqlIdent).join(", ")})`;
      await tx.execute({
        sql: `DELETE FROM ${sqlIdent(t.name)} WHERE ${key} IN (${gone})`,
        args: [t.name, t.name, t.name],
      });
      await tx.execute({
        sql: `DELETE FROM sync_versions WHERE tbl = ? AND pk IN (${gone})`,
        args: [t.name, t.name, t.name, t.name],
      });
    }
    await tx.execute("DELETE FROM sync_bootstrap");
    await finish(tx, first!.cursor, first!.serverSite);
    await tx.execute("UPDATE sync_clock SET applying = 0 WHERE id = 1");
  });
  return { rows: count };
}
