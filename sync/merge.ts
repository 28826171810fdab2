import { NO_STAMP, type Stamp } from "./stamp.ts";

/**
 * The merge rules, as ONE pure function both sides use (apply.ts on the edge and on the
 * server, and the property tests). A row's replicated state is a join-semilattice, so
 * merge is commutative, associative and idempotent: replicas that have seen the same set
 * of changes hold the same state, whatever the order, duplication or batching of delivery.
 *
 * - "columns": per-column last-writer-wins by stamp = (HLC, site).
 * - "row": the whole row is one register: the latest write wins all columns.
 * - "insert-only": rows never conflict; if two inserts of one key ever meet, the first
 *   (lowest stamp) wins, and a replica's stored row counts as first (it carries no stamp).
 *
 * A delete is a tombstone stamp. The row exists iff its newest column write is newer than
 * its newest delete — so a later write beats an earlier delete and vice versa, and a write
 * made concurrently with a delete it never saw resurrects the row with the other columns'
 * last values (kept in the tombstone).
 */
export type MergeMode = "columns" | "row" | "insert-only";

/** A last-writer-wins register: a column value and the stamp of the write that set it. */
export interface Register {
  v: unknown;
  s: Stamp;
}

export interface RowState {
  /** registers of the columns this state knows (a delta knows only the columns it wrote) */
  cols: Record<string, Register>;
  /** stamp of the newest delete, if any */
  del?: Stamp;
}

export const EMPTY_STATE: RowState = Object.freeze({ cols: Object.freeze({}) }) as RowState;

/** Joins two states of the same row. Returns `a` itself when `b` adds nothing (cheap no-op test). */
export function merge(mode: MergeMode, a: RowState, b: RowState): RowState {
  if (a === b) return a;
  if (mode === "columns") return mergeColumns(a, b);
  return mergeWhole(mode, a, b);
}

function mergeColumns(a: RowState, b: RowState): RowState {
  let cols: Record<string, Register> | undefined;
  for (const [name, rb] of Object.entries(b.cols)) {
    const ra = a.cols[name];
    if (ra === undefined || wins(rb, ra)) {
      cols ??= { ...a.cols };
      cols[name] = rb;
    }
  }
  const del = newer(a.del, b.del);
  if (cols === undefined && del === a.del) return a;
  return withDel(cols ?? a.cols, del);
}

/** Row-level LWW and insert-only: the columns travel as one unit. */
function mergeWhole(mode: MergeMode, a: RowState, b: RowState): RowState {
  const sa = rowStamp(a);
  const sb = rowStamp(b);
  let takeB: boolean;
  if (sb === undefined) takeB = false;
  else if (sa === undefined) takeB = true;
  else if (sa !== sb) takeB = mode === "row" ? sb > sa : sb < sa;
  else takeB = compareRows(b.cols, a.cols) > 0;
  const del = newer(a.del, b.del);
  if (!takeB && del === a.del) return a;
  return withDel(takeB ? b.cols : a.cols, del);
}

/** Does register x beat y? Equal stamps mean the same write; the value tie-break only keeps merge commutative if a site id was ever duplicated. */
function wins(x: Register, y: Register): boolean {
  if (x.s !== y.s) return x.s > y.s;
  return compareValues(x.v, y.v) > 0;
}

function newer(a: Stamp | undefined, b: Stamp | undefined): Stamp | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return b > a ? b : a;
}

function withDel(cols: Record<string, Register>, del: Stamp | undefined): RowState {
  return del === undefined ? { cols } : { cols, del };
}

/** Newest register stamp, or undefined for a state that knows no columns. */
export function rowStamp(state: RowState): Stamp | undefined {
  let top: Stamp | undefined;
  for (const name in state.cols) {
    const s = state.cols[name]!.s;
    if (top === undefined || s > top) top = s;
  }
  return top;
}

/** Whether the row exists in its table: a write newer than any delete (ties go to the delete). */
export function isAlive(mode: MergeMode, state: RowState): boolean {
  const top = rowStamp(state);
  if (top === undefined) return false;
  if (mode === "insert-only" || state.del === undefined) return true;
  return top > state.del;
}

/** The column values of a state. */
export function valuesOf(state: RowState): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name in state.cols) out[name] = state.cols[name]!.v;
  return out;
}

/** Registers for `values`, all written at `stamp` (an insert, an update, a whole row). */
export function registers(
  values: Record<string, unknown>,
  stamp: Stamp = NO_STAMP,
): Record<string, Register> {
  const cols: Record<string, Register> = {};
  for (const name in values) cols[name] = { v: values[name], s: stamp };
  return cols;
}

const TYPE_RANK: Record<string, number> = {
  undefined: 0,
  object: 1,
  boolean: 2,
  number: 3,
  bigint: 3,
  string: 4,
};

/** A total order on column values (null < booleans < numbers < strings), for tie-breaks. */
export function compareValues(x: unknown, y: unknown): number {
  if (x === y) return 0;
  const tx = x === null ? "object" : typeof x;
  const ty = y === null ? "object" : typeof y;
  if (tx !== ty) return (TYPE_RANK[tx] ?? 5) - (TYPE_RANK[ty] ?? 5);
  if (tx === "object") {
    const jx = JSON.stringify(x);
    const jy = JSON.stringify(y);
    return jx < jy ? -1 : jx > jy ? 1 : 0;
  }
  return (x as number) < (y as number) ? -1 : (x as number) > (y as number) ? 1 : 0;
}

function compareRows(x: Record<string, Register>, y: Record<string, Register>): number {
  const keys = [...new Set([...Object.keys(x), ...Object.keys(y)])].sort();
  for (const k of keys) {
    const c = compareValues(x[k]?.v, y[k]?.v);
    if (c !== 0) return c;
  }
  return 0;
}
