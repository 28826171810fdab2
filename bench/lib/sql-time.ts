import { createRequire } from "node:module";

/*
 * Time spent inside SQLite, for the sync benchmark: how much of a sync round is the storage
 * work itself (the statements and commits of edge and server), as opposed to everything
 * around it (HTTP, JSON, validation, merge). Wraps the native driver's prepare(), outside the
 * statement cache, and times each run/all/get of a statement.
 */
type Statement = Record<string, (...args: unknown[]) => unknown>;

/**
 * Seconds spent in SQLite statements while `f` runs (statements of this process only). The
 * driver's prepare() is wrapped for the duration only, so later benchmarks run unwrapped.
 */
export async function sqlSeconds<T>(f: () => Promise<T>): Promise<{ value: T; sqlS: number }> {
  const Database = createRequire(import.meta.url)("libsql") as {
    prototype: { prepare: (this: object, sql: string) => Statement };
  };
  const prepare = Database.prototype.prepare;
  let total = 0;
  Database.prototype.prepare = function timedPrepare(sql: string): Statement {
    const stmt = prepare.call(this, sql);
    const timed = Object.create(stmt) as Statement;
    for (const method of ["run", "all", "get"]) {
      timed[method] = (...args: unknown[]) => {
        const t0 = performance.now();
        try {
          return stmt[method]!(...args);
        } finally {
          total += performance.now() - t0;
        }
      };
    }
    // The client chains these; they must hand back the wrapper, not the statement.
    for (const method of ["raw", "safeIntegers"]) {
      timed[method] = (...args: unknown[]) => {
        stmt[method]!(...args);
        return timed;
      };
    }
    return timed;
  };
  try {
    const value = await f();
    return { value, sqlS: total / 1000 };
  } finally {
    Database.prototype.prepare = prepare;
  }
}
