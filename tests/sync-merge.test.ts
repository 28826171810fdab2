import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  EMPTY_STATE,
  isAlive,
  type MergeMode,
  merge,
  type RowState,
  registers,
  valuesOf,
} from "../sync/merge.ts";
import { hlcFromParts, hlcToHex, stampOf } from "../sync/stamp.ts";

const RUNS = { numRuns: 500 };
const COLS = ["a", "b", "c"];

const stamp = fc
  .tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 2 }), fc.constantFrom("s1", "s2", "s3"))
  .map(([ms, counter, site]) => stampOf(hlcToHex(hlcFromParts(1_700_000_000_000 + ms, counter)), site));
const value = fc.oneof(
  fc.constant(null),
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom("x", "y", "z"),
  fc.boolean(),
);

/** Any per-column state, including ones where two replicas disagree on a value under one stamp. */
const columnsState: fc.Arbitrary<RowState> = fc
  .record({
    cols: fc.dictionary(fc.constantFrom(...COLS), fc.record({ v: value, s: stamp }), { maxKeys: 3 }),
    del: fc.option(stamp, { nil: undefined }),
  })
  .map(({ cols, del }) => (del === undefined ? { cols } : { cols, del }));

/** Row-level and insert-only states: one stamp for the whole row. */
const wholeRowState: fc.Arbitrary<RowState> = fc
  .record({
    values: fc.dictionary(fc.constantFrom(...COLS), value, { minKeys: 0, maxKeys: 3 }),
    s: stamp,
    del: fc.option(stamp, { nil: undefined }),
  })
  .map(({ values, s, del }) => {
    const state: RowState = { cols: registers(values, s) };
    if (del !== undefined) state.del = del;
    return state;
  });

const cases: Array<[MergeMode, fc.Arbitrary<RowState>]> = [
  ["columns", columnsState],
  ["row", wholeRowState],
  ["insert-only", wholeRowState.map((s) => ({ cols: s.cols }))],
];

describe.each(cases)("merge (%s) is a join", (mode, state) => {
  const m = (x: RowState, y: RowState) => merge(mode, x, y);
  it("is commutative", () => {
    fc.assert(
      fc.property(state, state, (a, b) => {
        expect(m(a, b)).toEqual(m(b, a));
      }),
      RUNS,
    );
  });
  it("is associative", () => {
    fc.assert(
      fc.property(state, state, state, (a, b, c) => {
        expect(m(m(a, b), c)).toEqual(m(a, m(b, c)));
      }),
      RUNS,
    );
  });
  it("is idempotent, and re-merging what was merged changes nothing", () => {
    fc.assert(
      fc.property(state, state, (a, b) => {
        expect(m(a, a)).toEqual(a);
        expect(m(m(a, b), b)).toEqual(m(a, b));
      }),
      RUNS,
    );
  });
  it("has the empty state as identity", () => {
    fc.assert(
      fc.property(state, (a) => {
        expect(m(EMPTY_STATE, a)).toEqual(a);
        expect(m(a, EMPTY_STATE)).toEqual(a);
      }),
      RUNS,
    );
  });
  it("gives the same state for any delivery order, duplication or batching", () => {
    fc.assert(
      fc.property(
        fc.array(state, { minLength: 1, maxLength: 8 }),
        fc.infiniteStream(fc.nat()),
        (changes, seeds) => {
          const inOrder = changes.reduce(m, EMPTY_STATE);
          const shuffled = [...changes, ...changes.slice(0, 2)]
            .map((c) => ({ c, k: seeds.next().value as number }))
            .sort((x, y) => x.k - y.k)
            .map((x) => x.c);
          expect(shuffled.reduce(m, EMPTY_STATE)).toEqual(inOrder);
        },
      ),
      RUNS,
    );
  });
});

describe("merge rules", () => {
  const at = (ms: number, site = "s1") => stampOf(hlcToHex(hlcFromParts(1_700_000_000_000 + ms)), site);
  const write = (values: Record<string, unknown>, ms: number, site?: string): RowState => ({
    cols: registers(values, at(ms, site)),
  });
  const del = (ms: number, site?: string): RowState => ({ cols: {}, del: at(ms, site) });

  it("per column: the newest write of each column wins independently", () => {
    const merged = [write({ a: 1, b: 1 }, 1), write({ a: 2 }, 3), write({ b: 3 }, 2)].reduce((x, y) =>
      merge("columns", x, y),
    );
    expect(valuesOf(merged)).toEqual({ a: 2, b: 3 });
  });

  it("equal HLCs are ordered by site id", () => {
    expect(
      valuesOf(merge("columns", write({ a: "from s1" }, 5, "s1"), write({ a: "from s2" }, 5, "s2"))),
    ).toEqual({ a: "from s2" });
  });

  it("a later write beats an earlier delete, resurrecting the row with the other columns' last values", () => {
    const merged = [write({ a: 1, b: 1 }, 1), del(2), write({ a: 9 }, 3)].reduce((x, y) =>
      merge("columns", x, y),
    );
    expect(isAlive("columns", merged)).toBe(true);
    expect(valuesOf(merged)).toEqual({ a: 9, b: 1 });
  });

  it("a later delete beats an earlier write, whatever the arrival order", () => {
    for (const order of [
      [write({ a: 1 }, 1), write({ a: 2 }, 2), del(3)],
      [del(3), write({ a: 2 }, 2), write({ a: 1 }, 1)],
    ]) {
      expect(
        isAlive(
          "columns",
          order.reduce((x, y) => merge("columns", x, y)),
        ),
      ).toBe(false);
    }
  });

  it("row mode: the newest version of the whole row wins", () => {
    const merged = merge("row", write({ a: 1, b: 1 }, 2), write({ a: 5, b: 5, c: 5 }, 1));
    expect(valuesOf(merged)).toEqual({ a: 1, b: 1 });
  });

  it("insert-only: the first insert stays", () => {
    const merged = merge("insert-only", write({ a: "late" }, 9), write({ a: "first" }, 1));
    expect(valuesOf(merged)).toEqual({ a: "first" });
    expect(isAlive("insert-only", merged)).toBe(true);
  });
});
