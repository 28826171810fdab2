/**
 * Pure rolling statistics. SQL does the heavy lifting (sums over an index range); these
 * turn its sums into a baseline and a verdict.
 *
 * Standard deviation is the **sample** standard deviation (divide by n - 1): the window is
 * a sample of the sensor's behaviour, and with the small windows a gateway sees (the
 * default minimum is 5 readings) the population formula would understate the spread and
 * flag too much.
 */

/**
 * Power sums of a window's values, shifted by `shift`: count, Σ(v - shift), Σ(v - shift)².
 * Shifting by a value near the mean (any typical reading) avoids the catastrophic
 * cancellation of the textbook Σv² - (Σv)²/n when values are large and their spread small
 * (a counter near 1e9 that moves by 0.1).
 */
export interface ShiftedSums {
  count: number;
  shift: number;
  sum: number;
  sumSq: number;
}

export interface Baseline {
  count: number;
  mean: number | null;
  stddev: number | null;
}

export interface Verdict {
  zScore: number | null;
  anomaly: boolean;
}

export interface AnomalyRule {
  /** |z| strictly above this is an anomaly */
  zThreshold: number;
  /** baseline readings needed before anything is flagged */
  minSamples: number;
}

/** The sums without one reading: how a reading is scored against a window that holds it. */
export function withoutValue(sums: ShiftedSums, value: number): ShiftedSums {
  const d = value - sums.shift;
  return { count: sums.count - 1, shift: sums.shift, sum: sums.sum - d, sumSq: sums.sumSq - d * d };
}

/** Sample standard deviation from n and the sum of squared deviations (M2); null below 2. */
export function sampleStddev(count: number, m2: number): number | null {
  if (count < 2) return null;
  // Rounding can push M2 a hair below zero for (near-)constant data: clamp, never NaN.
  return Math.sqrt(Math.max(0, m2) / (count - 1));
}

export function baselineFromSums(sums: ShiftedSums): Baseline {
  if (sums.count <= 0) return { count: 0, mean: null, stddev: null };
  const meanOffset = sums.sum / sums.count;
  const m2 = sums.sumSq - sums.sum * meanOffset;
  return { count: sums.count, mean: sums.shift + meanOffset, stddev: sampleStddev(sums.count, m2) };
}

/**
 * Spread this small next to the mean is floating-point noise, not signal (no sensor
 * resolves 1 part in 1e12); treating it as zero keeps a flat-lined series from producing
 * an arbitrary z-score for a value equal to its mean.
 */
const RELATIVE_NOISE = 1e-12;

/** (value - mean) / stddev, or null when the baseline cannot define one. */
export function zScore(value: number, baseline: Baseline): number | null {
  if (baseline.mean === null || baseline.stddev === null) return null;
  const noise = RELATIVE_NOISE * Math.abs(baseline.mean);
  const diff = value - baseline.mean;
  if (baseline.stddev <= noise) return Math.abs(diff) <= noise ? 0 : null;
  return diff / baseline.stddev;
}

/**
 * Scores a reading against its baseline (which must not contain the reading, or a big
 * outlier would inflate the stddev and mask itself). Below `minSamples` nothing is
 * flagged. A baseline with no spread at all (a flat-lined sensor) has no finite z-score:
 * then any different value is flagged, and `zScore` is null.
 */
export function judge(value: number, baseline: Baseline, rule: AnomalyRule): Verdict {
  const z = zScore(value, baseline);
  if (baseline.count < rule.minSamples) return { zScore: z, anomaly: false };
  if (z === null) return { zScore: null, anomaly: baseline.stddev !== null };
  return { zScore: z, anomaly: Math.abs(z) > rule.zThreshold };
}

/** The median, used as the shift for ShiftedSums: close to the mean, but outliers cannot drag it. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
