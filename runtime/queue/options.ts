/** Defaults and argument checks shared by both queue backends, so they reject the same mistakes. */

export const DEFAULT_BACKOFF_MS = 1000;
export const DEFAULT_GRACE_MS = 10_000;

export function positive(name: string, n: number): number {
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`${name} must be a positive number, got ${n}`);
  return n;
}

export function nonNegative(name: string, n: number): number {
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`${name} must be zero or more, got ${n}`);
  return n;
}

export function atLeastOne(name: string, n: number): number {
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`${name} must be an integer of at least 1, got ${n}`);
  return n;
}
