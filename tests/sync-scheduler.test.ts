import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type SchedulerOptions, SyncScheduler } from "../sync/scheduler.ts";

/*
 * When an edge syncs: on an interval; after a refused round, exponential backoff with full
 * jitter (a failing batch is retried forever, never hammering); while the server is
 * unreachable, a cheap probe and a round the moment it answers.
 */
class NetworkDown extends Error {}

describe("sync scheduler", () => {
  let scheduler: SyncScheduler;
  let outcomes: Array<"ok" | "refused" | "down">;
  let runs: number[];
  let probes: number[];
  let serverUp: boolean;
  const start = Date.UTC(2026, 10, 27);

  const make = (extra: Partial<SchedulerOptions> = {}) => {
    scheduler = new SyncScheduler({
      run: async () => {
        runs.push(Date.now() - start);
        const outcome = outcomes.shift() ?? "ok";
        if (outcome === "refused") throw new Error("409 PUSH_CONFLICT");
        if (outcome === "down") throw new NetworkDown("fetch failed");
      },
      probe: async () => {
        probes.push(Date.now() - start);
        return serverUp;
      },
      isNetworkError: (err) => err instanceof NetworkDown,
      intervalMs: 30_000,
      probeMs: 5_000,
      backoffBaseMs: 1_000,
      backoffMaxMs: 300_000,
      random: () => 1, // the top of each jitter range, so the delays are exact
      ...extra,
    });
    return scheduler;
  };

  beforeEach(() => {
    vi.useFakeTimers({ now: start });
    [outcomes, runs, probes, serverUp] = [[], [], [], false];
  });
  afterEach(() => {
    scheduler.stop();
    vi.useRealTimers();
  });

  it("runs at once, then every interval", async () => {
    make().start();
    await vi.advanceTimersByTimeAsync(61_000);
    expect(runs).toEqual([0, 30_000, 60_000]);
    expect(scheduler.failures).toBe(0);
  });

  it("backs off exponentially after refused rounds, up to the ceiling, and counts the failures", async () => {
    outcomes = ["refused", "refused", "refused", "refused", "ok"];
    make({ backoffMaxMs: 5_000 }).start();
    await vi.advanceTimersByTimeAsync(20_000);
    // delays: 2 s (1 s × 2^1), 4 s, then the 5 s ceiling twice; then the interval again
    expect(runs).toEqual([0, 2_000, 6_000, 11_000, 16_000]);
    expect(scheduler.failures).toBe(0);
    expect(scheduler.nextAt).toBe(start + 16_000 + 30_000);
  });

  it("draws each backoff from the whole range (full jitter), never under 100 ms", async () => {
    outcomes = ["refused", "refused"];
    make({ random: () => 0 }).start();
    await vi.advanceTimersByTimeAsync(250);
    expect(runs).toEqual([0, 100, 200]);
  });

  it("probes while the server is unreachable and syncs the moment it answers", async () => {
    outcomes = ["down"];
    make().start();
    await vi.advanceTimersByTimeAsync(13_000);
    expect(probes).toEqual([6_000, 12_000]); // every 5 s ± 20 % (the top here)
    expect(runs).toEqual([0]);
    expect(scheduler.failures).toBe(1);
    serverUp = true;
    await vi.advanceTimersByTimeAsync(6_000);
    expect(runs).toEqual([0, 18_000]); // at the probe that found it up
    expect(scheduler.failures).toBe(0);
  });

  it("a round that succeeds by hand (POST /v1/sync/now) ends a backoff", async () => {
    outcomes = ["refused", "refused", "refused"];
    make().start();
    await vi.advanceTimersByTimeAsync(7_000); // runs at 0, 2 s, 6 s; next try 8 s later
    expect(scheduler.failures).toBe(3);
    scheduler.succeeded();
    expect(scheduler.failures).toBe(0);
    expect(scheduler.nextAt).toBe(start + 7_000 + 30_000);
  });

  it("stops: no more runs or probes", async () => {
    outcomes = ["down"];
    make().start();
    await vi.advanceTimersByTimeAsync(1);
    scheduler.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect([runs, probes]).toEqual([[0], []]);
    expect(scheduler.nextAt).toBeNull();
  });
});
