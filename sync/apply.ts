import type { Transaction } from "@libsql/client";
import { appendChanges } from "./changelog.ts";
import { foldLocal } from "./fold.ts";
import { applyFreshInserts, asFreshInserts, type FreshInserts } from "./fresh-inserts.ts";
import type { SyncContext } from "./install.ts";
import { writeTransaction } from "./lane.ts";
import { EMPTY_STATE, isAlive, merge, type RowState, registers } from "./merge.ts";
import type { SnapshotRow, WireChange } from "./protocol.ts";
import { classify, isConstraintError, type Quarantined, writeQuarantine } from "./quarantine.ts";
import {
  insertNewVersions,
  isComplete,
  loadColumn,
  loadLocal,
  type RowWrite,
  versionedKeys,
  writeRows,
} from "./rows.ts";
import { type ResolvedTable, rowKey } from "./spec.ts";
import { stampHlc, stampOf } from "./stamp.ts";

export interface ApplyInput {
  /** the peer the batch came from (a site id, or "server"): for errors and the quarantine */
  from: string;
  /** captured changes (a push batch or a pull page) */
  changes?: WireChange[];
  /** full row states (a snapshot page) */
  rows?: SnapshotRow[];
  /** server: append the applied changes of two-way tables to the change log, for other edges */
  log?: boolean;
  /** the cursor or acknowledgement covering this batch, written in the same transaction */
  record?: (tx: Transaction) => Promise<void>;
  /** test hook: runs just before COMMIT (throw to simulate a crash between apply and ack) */
  beforeCommit?: () => void | Promise<void>;
}

export interface ApplyResult {
  /** rows whose stored state changed */
  applied: number;
  /** rows the batch did not change (duplicates, changes that lost) */
  unchanged: number;
  /** changes kept aside for after an upgrade (unknown table or column) */
  held: number;
  /** changes that can never apply here (wrong direction, constraint violation) */
  rejected: number;
}

interface Pending {
  key: string;
  pk: unknown[];
  state: RowState;
  changes: WireChange[];
}

/**
 * Applies a batch of remote changes in ONE transaction: merge() against what is stored,
 * materialize the result, advance the clock past the batch, and record the cursor/ack via
 * `record` — all or nothing, so a re-sent batch finds its ack and is a no-op. The capture
 * triggers are off meanwhile (sync_clock.applying), so applied changes are not echoed.
 * A far-future batch is refused whole (ClockSkewError) before anything is written.
 */
export async function applyRemote(ctx: SyncContext, input: ApplyInput): Promise<ApplyResult> {
  const quarantined: Quarantined[] = [];
  const groups = new Map<string, Map<string, Pending>>();
  let maxHlc = "";
  const add = (t: ResolvedTable, pk: unknown[], state: RowState, change?: WireChange) => {
    let group = groups.get(t.name);
    if (!group) {
      group = new Map();
      groups.set(t.name, group);
    }
    addPending(group, t, pk, state, change);
  };
  const byTable = new Map<ResolvedTable, WireChange[]>();
  for (const change of input.changes ?? []) {
    const t = classify(ctx, change.tbl, change.cols, change, quarantined);
    if (!t) continue;
    if (change.hlc > maxHlc) maxHlc = change.hlc;
    const list = byTable.get(t);
    if (list) list.push(change);
    else byTable.set(t, [change]);
  }
  // A table's part of the batch takes the fresh-insert path whole (see fresh-inserts.ts), or not at all.
  const fresh = new Map<string, FreshInserts>();
  for (const [t, changes] of byTable) {
    const inserts = input.rows?.length ? undefined : asFreshInserts(t, changes);
    if (inserts) {
      fresh.set(t.name, inserts);
      continue;
    }
    // A table received into a per-site table (receiveInto) is keyed by (site, key...).
    for (const change of changes)
      add(t, t.into ? [change.site, ...change.pk] : change.pk, changeState(change), change);
  }
  for (const row of input.rows ?? []) {
    const t = classify(ctx, row.tbl, row.cols, row, quarantined);
    if (!t) continue;
    const state = snapshotState(row);
    for (const c of Object.values(row.cols)) if (stampHlc(c[1]) > maxHlc) maxHlc = stampHlc(c[1]);
    if (row.del && stampHlc(row.del) > maxHlc) maxHlc = stampHlc(row.del);
    add(t, row.pk, state);
  }
  // Checked before the write lock is taken; receive() checks again inside the transaction.
  if (maxHlc) await ctx.clock.check(maxHlc, input.from);
  try {
    return await inTransaction(ctx, input, groups, fresh, quarantined, maxHlc, false);
  } catch (err) {
    if (!isConstraintError(err)) throw err;
    // Some row breaks a constraint (a unique index, a foreign key). Rather than refusing the
    // batch forever, redo it row by row and quarantine the rows that fail.
    return inTransaction(ctx, input, groups, fresh, quarantined, maxHlc, true);
  }
}

async function inTransaction(
  ctx: SyncContext,
  input: ApplyInput,
  groups: Map<string, Map<string, Pending>>,
  fresh: Map<string, FreshInserts>,
  quarantinedBefore: Quarantined[],
  maxHlc: string,
  careful: boolean,
): Promise<ApplyResult> {
  const quarantined = [...quarantinedBefore];
  const result: ApplyResult = { applied: 0, unchanged: 0, held: 0, rejected: 0 };
  const failed = new Set<WireChange>();
  return writeTransaction(ctx.client, async (tx) => {
    await tx.execute("UPDATE sync_clock SET applying = 1 WHERE id = 1");
    // Foreign keys are checked per statement, not deferred to COMMIT: tables are applied
    // parents first (SYNCED_TABLES order), and a violation then fails its statement and
    // sends the batch down the careful path. A COMMIT that fails on a deferred violation
    // leaves the driver's failed statement active on its connection, which then refuses
    // every schema change (DROP/CREATE TABLE: "database table is locked") until collected.
    if (maxHlc) await ctx.clock.receive(maxHlc, input.from, tx);
    // Stored stamps must include local changes before merging (or claiming rows as new).
    if (groups.size > 0 || fresh.size > 0) await foldLocal(tx, ctx);
    for (const t of ctx.tables) {
      const inserts = fresh.get(t.name);
      if (inserts && !careful && (await applyFreshInserts(tx, inserts))) {
        result.applied += inserts.changes.length;
        continue;
      }
      // Some row existed after all (or the batch is redone row by row): the general path.
      const group = inserts ? pendingOf(inserts) : groups.get(t.name);
      if (!group) continue;
      const pending = t.ownerColumn
        ? await ownRowsOnly(tx, t, [...group.values()], quarantined, failed)
        : [...group.values()];
      if (!careful) {
        await applyTable(tx, t, pending, result, inserts !== undefined);
        continue;
      }
      for (const p of pending) {
        await tx.execute("SAVEPOINT sync_row");
        try {
          await applyTable(tx, t, [p], result);
          await tx.execute("RELEASE sync_row");
        } catch (err) {
          if (!isConstraintError(err)) throw err;
          await tx.execute("ROLLBACK TO sync_row");
          await tx.execute("RELEASE sync_row");
          for (const change of p.changes) failed.add(change);
          const what: Array<WireChange | SnapshotRow> = p.changes.length
            ? p.changes
            : [{ tbl: t.name, pk: p.pk as never, cols: {} }];
          for (const change of what)
            quarantined.push({ change, kind: "rejected", reason: (err as Error).message });
        }
      }
    }
    if (input.log && input.changes) {
      await appendChanges(
        tx,
        ctx,
        input.changes.filter((c) => !failed.has(c)),
      );
    }
    await writeQuarantine(tx, input.from, quarantined);
    for (const q of quarantined) result[q.kind]++;
    if (input.record) await input.record(tx);
    await input.beforeCommit?.();
    await tx.execute("UPDATE sync_clock SET applying = 0 WHERE id = 1");
    return result;
  });
}

/**
 * A row with an owner (SyncedTableSpec.ownerColumn) may only be changed by its owner: the
 * incoming row must name the sender (checked in classify), and so must the row stored here.
 * Otherwise a node could overwrite another node's row, or one the server made itself (those
 * have no stamps, so they would count as oldest and lose), just by reusing its key.
 */
async function ownRowsOnly(
  tx: Transaction,
  t: ResolvedTable,
  pending: Pending[],
  quarantined: Quarantined[],
  failed: Set<WireChange>,
): Promise<Pending[]> {
  const column = t.ownerColumn!;
  const owners = await loadColumn(
    tx,
    t,
    pending.map((p) => p.pk),
    column,
  );
  return pending.filter((p) => {
    if (!owners.has(p.key)) return true;
    const owner = owners.get(p.key);
    const foreign = p.changes.filter((c) => c.site !== owner);
    for (const change of foreign) {
      failed.add(change);
      quarantined.push({
        change,
        kind: "rejected",
        reason: `the "${t.name}" row ${p.key} belongs to ${JSON.stringify(owner)}, not to ${change.site} which sent it`,
      });
    }
    return foreign.length === 0;
  });
}

async function applyTable(
  tx: Transaction,
  t: ResolvedTable,
  pending: Pending[],
  result: ApplyResult,
  /** the fresh-insert path just found that some of these rows exist: skip claiming them all at once */
  someExist = false,
): Promise<void> {
  const writes: RowWrite[] = pending.map((p) => ({ key: p.key, pk: p.pk, merged: p.state }));
  if (t.mode === "insert-only") {
    // Nothing to load: a stored row counts as the first write, so it always stays.
    const target = t.into ? { ...t, name: t.into.name, pk: [t.into.siteColumn, ...t.pk] } : t;
    await writeRows(
      tx,
      target,
      writes.filter((w) => isAlive(t.mode, w.merged)),
      { stamps: false },
    );
    result.applied += writes.length;
    return;
  }
  let rest = writes;
  const candidates = writes.filter((w) => isAlive(t.mode, w.merged) && isComplete(t, w.merged));
  const fresh = candidates.length > 0 ? await claimFresh(tx, t, candidates, someExist) : [];
  if (fresh.length > 0) {
    // None of these rows had stamps here: merge(nothing, incoming) = incoming. A row that
    // predates sync has no stamps either and its values count as oldest, so the upsert
    // is exactly what merge() would decide.
    await writeRows(tx, t, fresh, { stamps: false });
    result.applied += fresh.length;
    if (fresh.length === writes.length) return;
    const claimed = new Set(fresh.map((w) => w.key));
    rest = writes.filter((w) => !claimed.has(w.key));
  }
  const local = await loadLocal(tx, t, rest);
  const changed: RowWrite[] = [];
  for (const w of rest) {
    const stored = local.get(w.key);
    const before = stored?.state ?? EMPTY_STATE;
    const merged = merge(t.mode, before, w.merged);
    if (merged === before) result.unchanged++;
    else changed.push({ ...w, local: stored, merged });
  }
  await writeRows(tx, t, changed, { stamps: true });
  result.applied += changed.length;
}

/**
 * The optimistic path: records the stamps of rows this replica has never seen, as one
 * insert that touches no existing row, and returns the rows so claimed. If some row did
 * exist, the insert is undone, the rows that have stamps here are looked up, and only the
 * others are claimed: the rest take the general path (load, merge, write).
 */
async function claimFresh(
  tx: Transaction,
  t: ResolvedTable,
  writes: RowWrite[],
  someExist: boolean,
): Promise<RowWrite[]> {
  if (!someExist && (await tryClaim(tx, t, writes))) return writes;
  const known = await versionedKeys(
    tx,
    t,
    writes.map((w) => w.key),
  );
  const unseen = writes.filter((w) => !known.has(w.key));
  // Nothing else writes in this transaction: these are new now. (If not, none is claimed.)
  return unseen.length > 0 && (await tryClaim(tx, t, unseen)) ? unseen : [];
}

async function tryClaim(tx: Transaction, t: ResolvedTable, writes: RowWrite[]): Promise<boolean> {
  await tx.execute("SAVEPOINT sync_fresh");
  const allNew = await insertNewVersions(tx, t, writes);
  await tx.execute(allNew ? "RELEASE sync_fresh" : "ROLLBACK TO sync_fresh");
  if (!allNew) await tx.execute("RELEASE sync_fresh");
  return allNew;
}

/** Adds a row's state to a table's pending rows. */
function addPending(
  group: Map<string, Pending>,
  t: ResolvedTable,
  pk: unknown[],
  state: RowState,
  change?: WireChange,
): void {
  const key = rowKey(pk);
  const seen = group.get(key);
  // Changes to one row inside a batch fold into one state first: merge is associative and
  // commutative, so this is exactly what applying them one by one would give.
  if (seen) {
    seen.state = merge(t.mode, seen.state, state);
    if (change) seen.changes.push(change);
  } else group.set(key, { key, pk, state, changes: change ? [change] : [] });
}

function pendingOf({ t, changes }: FreshInserts): Map<string, Pending> {
  const out = new Map<string, Pending>();
  for (const c of changes) addPending(out, t, c.pk, changeState(c), c);
  return out;
}

function changeState(change: WireChange): RowState {
  const stamp = stampOf(change.hlc, change.site);
  if (change.op === "delete") return { cols: {}, del: stamp };
  return { cols: registers(change.cols ?? {}, stamp) };
}

function snapshotState(row: SnapshotRow): RowState {
  const cols: RowState["cols"] = {};
  for (const [name, [v, s]] of Object.entries(row.cols)) cols[name] = { v, s };
  return row.del ? { cols, del: row.del } : { cols };
}
