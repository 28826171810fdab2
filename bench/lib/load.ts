import { readFileSync } from "node:fs";
import autocannon from "autocannon";

export interface LoadResult {
  rps: number;
  p99_ms: number;
  errors: number;
  non2xx: number;
  /** server CPU time (all threads) per request of the measured run; only with `pid` */
  cpu_us_per_req?: number;
}

/**
 * Drives a URL with autocannon: a short warm-up, then the measured run. With the server's
 * `pid`, also its CPU time per request: unlike requests/s, that barely moves when other
 * work shares the machine, so it is the number to compare across runs on a busy box.
 */
export async function load(
  url: string,
  opts: {
    method?: string;
    body?: string;
    headers?: Record<string, string>;
    connections?: number;
    seconds?: number;
    warmupSeconds?: number;
    pid?: number;
  } = {},
): Promise<LoadResult> {
  const base = {
    url,
    method: (opts.method ?? "GET") as "GET",
    body: opts.body,
    headers: opts.headers,
    connections: opts.connections ?? 50,
  };
  await autocannon({ ...base, duration: opts.warmupSeconds ?? 2 });
  const cpuBefore = opts.pid ? cpuMicros(opts.pid) : 0;
  const r = await autocannon({ ...base, duration: opts.seconds ?? 10 });
  const result: LoadResult = {
    rps: Math.round(r.requests.average),
    p99_ms: r.latency.p99,
    errors: r.errors,
    non2xx: r.non2xx,
  };
  if (opts.pid && r.requests.total > 0) {
    result.cpu_us_per_req = Math.round((cpuMicros(opts.pid) - cpuBefore) / r.requests.total);
  }
  return result;
}

/** utime + stime of a process (every thread), from /proc/<pid>/stat, in microseconds. */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1_000_000) / CLOCK_TICKS;
}

/** USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK). */
const CLOCK_TICKS = 100;
