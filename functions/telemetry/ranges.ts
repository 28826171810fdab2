import { median } from "./stats.ts";

/** A time range of one series (inclusive bounds, unix ms). */
export interface SeriesRange {
  device: string;
  metric: string;
  from: number;
  until: number;
}

/** A range to scan for rolling baselines, with the shift for its ShiftedSums. */
export interface ScanRange extends SeriesRange {
  shift: number;
}

interface TimedReading {
  device: string;
  metric: string;
  value: number;
  ts: number;
}

// device and metric names cannot hold a NUL, so this key is unambiguous
const seriesKey = (r: { device: string; metric: string }) => `${r.device}\u0000${r.metric}`;

function groupBySeries<T extends TimedReading>(readings: readonly T[]): T[][] {
  const groups = new Map<string, T[]>();
  for (const r of readings) {
    const key = seriesKey(r);
    const group = groups.get(key);
    if (group) group.push(r);
    else groups.set(key, [r]);
  }
  return [...groups.values()];
}

/**
 * The rows the rolling baselines of a batch need: per series, the union of
 * [ts - windowMs, ts] over its readings, merged into disjoint ranges. A batch spanning a
 * year of backfill then scans only the hours around its readings, not the whole year.
 * Each reading's window lies inside one range (the range's end is its newest reading and
 * its start is at most that reading's window start), so a window never mixes ranges —
 * which is what lets each range carry its own shift.
 */
export function scanRanges(readings: readonly TimedReading[], windowMs: number): ScanRange[] {
  const ranges: ScanRange[] = [];
  for (const group of groupBySeries(readings)) {
    const sorted = [...group].sort((a, b) => a.ts - b.ts);
    let start = 0;
    for (let i = 1; i <= sorted.length; i++) {
      // a gap wider than the window (strictly) starts a new range: ranges never share a row
      if (i < sorted.length && sorted[i]!.ts - windowMs <= sorted[i - 1]!.ts) continue;
      const members = sorted.slice(start, i);
      const first = members[0]!;
      ranges.push({
        device: first.device,
        metric: first.metric,
        from: first.ts - windowMs,
        until: members[members.length - 1]!.ts,
        shift: median(members.map((m) => m.value)),
      });
      start = i;
    }
  }
  return ranges;
}

/**
 * The window each series in a batch is summarized over: the window ending at receipt
 * time, or at the series' newest reading when a (slightly fast) device clock put it later.
 */
export function summaryRanges(
  readings: readonly TimedReading[],
  windowMs: number,
  receivedAt: number,
): SeriesRange[] {
  return groupBySeries(readings).map((group) => {
    const until = group.reduce((latest, r) => Math.max(latest, r.ts), receivedAt);
    return { device: group[0]!.device, metric: group[0]!.metric, from: until - windowMs, until };
  });
}
