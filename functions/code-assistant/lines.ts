import type { Finding } from "./schema.ts";

/** Lines `first..last` of the input, 1-based and inclusive. */
export interface LineRange {
  first: number;
  last: number;
}

/**
 * Splits lines into consecutive ranges whose summed cost stays within `budget`, each range
 * repeating the last `overlap` lines of the one before it, so an issue that spans a cut
 * (a function's head and its body) is seen whole by at least one call. The overlap shrinks
 * to half a range when ranges are short, so the split always moves forward. A single line
 * over the budget cannot be split without cutting it: its number is returned instead.
 */
export function chunkLines(
  costs: readonly number[],
  budget: number,
  overlap: number,
): { ranges: LineRange[] } | { lineTooLong: number } {
  const ranges: LineRange[] = [];
  let start = 0;
  while (start < costs.length) {
    let end = start;
    let sum = 0;
    while (end < costs.length && sum + costs[end]! <= budget) sum += costs[end++]!;
    if (end === start) return { lineTooLong: start + 1 };
    ranges.push({ first: start + 1, last: end });
    if (end >= costs.length) break;
    start = Math.max(start + 1, end - Math.min(overlap, Math.floor((end - start) / 2)));
  }
  return { ranges };
}

/**
 * Line check of a review. Policy: a finding whose line is not one of the lines shown to
 * the model is DROPPED, not clamped — clamping would pin the finding on a line it is not
 * about, which is worse than not reporting it; the number dropped is reported.
 */
export function keepInRange(
  findings: readonly Finding[],
  range: LineRange,
): { kept: Finding[]; dropped: number } {
  const kept = findings.filter(
    (f) => Number.isInteger(f.line) && f.line >= range.first && f.line <= range.last,
  );
  return { kept, dropped: findings.length - kept.length };
}

/**
 * Findings of overlapping parts, merged: line-checked against their own part, the same
 * finding reported by two parts (same line, severity and message) kept once, in line order.
 */
export function mergeFindings(parts: ReadonlyArray<{ range: LineRange; findings: readonly Finding[] }>): {
  findings: Finding[];
  dropped: number;
} {
  const seen = new Set<string>();
  const findings: Finding[] = [];
  let dropped = 0;
  for (const part of parts) {
    const checked = keepInRange(part.findings, part.range);
    dropped += checked.dropped;
    for (const f of checked.kept) {
      const key = `${f.line}\u0000${f.severity}\u0000${f.message.trim().toLowerCase()}`;
      if (seen.has(key)) continue;
      seen.add(key);
      findings.push(f);
    }
  }
  findings.sort((a, b) => a.line - b.line);
  return { findings, dropped };
}
