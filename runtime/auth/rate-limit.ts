import { AppError } from "../errors.ts";

/**
 * Per-principal token buckets: `ratePerSec` tokens refill continuously up to `burst`.
 * In memory and per process, which is what a gateway needs; a scaled-out server puts a
 * proxy limit in front as well.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token for `who` or throws 429 with Retry-After (seconds until a token is back). */
  take(who: string): void {
    const t = this.now();
    let b = this.buckets.get(who);
    if (!b) {
      if (this.buckets.size > 100_000) this.sweep(t);
      b = { tokens: this.burst, at: t };
      this.buckets.set(who, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.ratePerSec);
    b.at = t;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return;
    }
    const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / this.ratePerSec));
    throw new AppError(
      429,
      "RATE_LIMITED",
      `Too many requests for this credential; retry in ${retryAfter} s.`,
      {
        headers: { "Retry-After": String(retryAfter) },
      },
    );
  }

  /** Forgets buckets that are full again, so one-off callers do not pile up. */
  private sweep(t: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((t - b.at) / 1000) * this.ratePerSec >= this.burst) this.buckets.delete(k);
    }
  }
}
