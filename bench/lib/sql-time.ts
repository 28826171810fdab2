import { createRequire } from "node:module";

/*
 * Time spent inside SQLite, for the sync benchmark: how much of a sync round is the storage
 * work itself (the statements and commits of edge and server), as opposed to everything
 * around it (HTTP, JSON, validation, merge). Wraps the native driver's prepare() once, outside
 * the statement cache, and times each run/all/get of a statement while a measurement is on.
 */
type Statement = Record<string, (...args: unknown[]) => unknown>;

let total = 0;
let on = false;
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  const Database = createRequire(import.meta.url)("libsql") as {
    prototype: { prepare: (this: object, sql: string) => Statement };
  };
  const prepare = Database.prototype.prepare;
  Database.prototype.prepare = function timedPrepare(sql: string): Statement {
    const stmt = prepare.call(this, sql);
    const timed = Object.create(stmt) as Statement;
    for (const method of ["run", "all", "get"]) {
      timed[method] = (...args: unknown[]) => {
        if (!on) return stmt[method]!(...args);
        const t0 = performance.now();
        try {
          return stmt[method]!(...args);
        } finally {
          total += performance.now() - t0;
        }
      };
    }
    // The client chains these; they must hand back the wrapper, not the statement.
    for (const method of ["raw", "safeIntegers", "pluck"]) {
      timed[method] = (...args: unknown[]) => {
        stmt[method]!(...args);
        return timed;
      };
    }
    return timed;
  };
}

/** Seconds spent in SQLite statements while `f` runs (statements of this process only). */
export async function sqlSeconds<T>(f: () => Promise<T>): Promise<{ value: T; sqlS: number }> {
  install();
  total = 0;
  on = true;
  try {
    const value = await f();
    return { value, sqlS: total / 1000 };
  } finally {
    on = false;
  }
}
