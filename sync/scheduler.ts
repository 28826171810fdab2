import type { Logger } from "../runtime/log.ts";

export interface SchedulerOptions {
  run(): Promise<unknown>;
  probe(): Promise<boolean>;
  isNetworkError(err: unknown): boolean;
  intervalMs: number;
  probeMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  log?: Logger;
  random?: () => number;
}

/**
 * When the edge syncs. After a success: again in intervalMs. After the server answered with
 * an error: exponential backoff with full jitter (never slower than backoffMaxMs, so a
 * failing batch is retried forever but never hammers). While the server is unreachable: a
 * cheap probe every ~probeMs, and a full round the moment it answers — so sync resumes
 * as soon as the link is back, not at the next backoff step.
 */
export class SyncScheduler {
  failures = 0;
  nextAt: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  private readonly random: () => number;

  constructor(private readonly opts: SchedulerOptions) {
    this.random = opts.random ?? Math.random;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.at(0, () => this.tick());
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.nextAt = null;
  }

  /** A round succeeded outside the schedule (POST /v1/sync/now): back to the normal interval. */
  succeeded(): void {
    if (this.failures === 0) return;
    this.failures = 0;
    this.at(this.opts.intervalMs, () => this.tick());
  }

  private at(delayMs: number, fn: () => Promise<void>): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.nextAt = Date.now() + delayMs;
    this.timer = setTimeout(() => void fn(), delayMs);
    this.timer.unref?.(); // background sync never keeps a process alive
  }

  private async tick(): Promise<void> {
    try {
      await this.opts.run();
      this.failures = 0;
      this.at(this.opts.intervalMs, () => this.tick());
    } catch (err) {
      this.failures++;
      if (this.opts.isNetworkError(err)) {
        this.opts.log?.debug("sync: server unreachable; probing", { err: (err as Error).message });
        this.at(this.jitter(this.opts.probeMs), () => this.probe());
      } else {
        const delay = this.backoff();
        this.opts.log?.warn("sync: round failed; retrying", {
          err: (err as Error).message,
          inMs: delay,
          failures: this.failures,
        });
        this.at(delay, () => this.tick());
      }
    }
  }

  private async probe(): Promise<void> {
    const up = await this.opts.probe().catch(() => false);
    if (up) return this.tick();
    this.at(this.jitter(this.opts.probeMs), () => this.probe());
  }

  /** Full jitter: uniform in [0, min(max, base * 2^failures)], at least 100 ms. */
  private backoff(): number {
    const ceiling = Math.min(
      this.opts.backoffMaxMs,
      this.opts.backoffBaseMs * 2 ** Math.min(this.failures, 30),
    );
    return Math.max(100, Math.round(this.random() * ceiling));
  }

  /** ±20 %, so a fleet of edges does not probe in lockstep. */
  private jitter(ms: number): number {
    return Math.round(ms * (0.8 + 0.4 * this.random()));
  }
}
