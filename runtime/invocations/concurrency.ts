import { AppError } from "../errors.ts";

/**
 * Caps how many invocations of one function run at once on this node. A caller over the
 * cap gets 429 at once rather than piling up behind an overloaded model; queued jobs
 * that hit it are retried by the queue later.
 */
export class ConcurrencyLimits {
  private readonly running = new Map<string, number>();
  private readonly limits = new Map<string, number>();

  constructor(limits: Record<string, number> = {}) {
    for (const [fn, n] of Object.entries(limits)) this.set(fn, n);
  }

  set(fn: string, limit: number | undefined): void {
    if (limit === undefined) this.limits.delete(fn);
    else this.limits.set(fn, Math.max(1, Math.floor(limit)));
  }

  get(fn: string): number | undefined {
    return this.limits.get(fn);
  }

  /** Reserves a slot; the returned function gives it back. */
  acquire(fn: string): () => void {
    const limit = this.limits.get(fn);
    const now = this.running.get(fn) ?? 0;
    if (limit !== undefined && now >= limit) {
      throw new AppError(
        429,
        "CONCURRENCY_LIMIT",
        `"${fn}" is already running ${limit} times on this node; retry shortly.`,
        {
          headers: { "Retry-After": "1" },
        },
      );
    }
    this.running.set(fn, now + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running.set(fn, (this.running.get(fn) ?? 1) - 1);
    };
  }

  snapshot(): Record<string, { running: number; limit?: number }> {
    const out: Record<string, { running: number; limit?: number }> = {};
    for (const fn of new Set([...this.running.keys(), ...this.limits.keys()])) {
      out[fn] = { running: this.running.get(fn) ?? 0, limit: this.limits.get(fn) };
    }
    return out;
  }
}
