import { createRequire } from "node:module";

/*
 * A prepared-statement cache for the local libSQL driver. @libsql/client prepares every
 * statement afresh on each execute(), and SQLite compiles a table's triggers into every
 * statement that writes it: on a synced table preparing a one-row upsert costs more than
 * running it (measured: ~110 µs to prepare vs ~130 µs to run and commit, against ~25 µs to
 * prepare without the capture triggers). The client offers no hook, so the driver's
 * Database.prepare is wrapped once per process to hand back the statement it prepared
 * before for the same SQL on the same connection.
 *
 * Safe to reuse because the client runs a statement to completion synchronously (run() or
 * all()), which resets it; SQLite re-prepares a cached statement by itself after a schema
 * change. A statement that threw may still be mid-step (a failed COMMIT is: it would keep
 * DROP TABLE from running on its connection), so it is dropped from the cache and left to
 * the garbage collector, as without the cache.
 *
 * One thing SQLite's re-prepare does not cover: the client reads a statement's column names
 * BEFORE running it, so a cached `SELECT *` (or `RETURNING *`) would name the columns of the
 * schema it was first prepared against. Statements returning rows whose SQL has a `*` for
 * columns (`SELECT *`, `t.*`, `RETURNING *`) are therefore never cached. For the same reason a
 * column's name (its case) and declared type come from the schema a statement was prepared
 * against: so every cache is emptied after a CREATE, DROP or ALTER runs on any connection of
 * this process. (DDL run by another process on the same file is not seen; SQLite still
 * re-prepares, only the names' case and declared types could lag until the statement leaves
 * the cache.)
 */

interface DriverStatement {
  readonly reader: boolean;
  run(...args: unknown[]): unknown;
  all(...args: unknown[]): unknown;
  get(...args: unknown[]): unknown;
  iterate(...args: unknown[]): unknown;
  raw(toggle?: boolean): DriverStatement;
  safeIntegers(toggle?: boolean): DriverStatement;
}
type Prepare = (this: object, sql: string) => DriverStatement;
type Exec = (this: object, sql: string) => unknown;

/**
 * Statements kept per connection, least recently used dropped first: a few times the few
 * dozen statements a node repeats, and a bound on what a statement holds (its compiled
 * program, with the triggers of a synced table) across the pool.
 */
export const CACHED_STATEMENTS = 64;
/** Longer SQL (multi-row VALUES lists, generated bulk statements) is rarely repeated verbatim. */
export const MAX_CACHED_SQL = 4096;

/** A `*` standing for columns: after SELECT [DISTINCT|ALL], RETURNING or a comma, maybe as `table.*`. */
const COLUMNS_STAR = /(?:\bselect(?:\s+(?:distinct|all))?|\breturning|,)\s*(?:(?:"[^"]*"|\w+)\s*\.\s*)?\*/i;
/** SQL comments, which may sit between SELECT and its `*`. */
const withoutComments = (sql: string) => sql.replace(/\/\*[\s\S]*?\*\/|--[^\n]*/g, " ");

/** CREATE, DROP or ALTER after any leading space and comments: a statement that changes the schema. */
const DDL_START = String.raw`\s*(?:(?:--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)\s*)*(?:create|drop|alter)\b`;
const DDL = new RegExp(`^${DDL_START}`, "i");
/** The same at the start of any statement of a multi-statement script. */
const DDL_IN_SCRIPT = new RegExp(`(?:^|;)${DDL_START}`, "i");
/** Bumped whenever DDL is prepared or exec'd on any connection: a cache from before is stale. */
let schemaGeneration = 0;

let installed = false;

/** Prepares served from the cache and prepared afresh, since the process started. */
export const statementCacheStats = { hits: 0, misses: 0 };

/** Wraps the driver's prepare() (idempotent). Affects local file and :memory: databases. */
export function installStatementCache(): void {
  if (installed) return;
  installed = true;
  const Database = createRequire(import.meta.url)("libsql") as {
    prototype: { prepare: Prepare; exec: Exec };
  };
  const prepare = Database.prototype.prepare;
  const exec = Database.prototype.exec;
  const caches = new WeakMap<object, { generation: number; statements: Map<string, DriverStatement> }>();

  Database.prototype.exec = function execNoticingDdl(sql: string): unknown {
    if (DDL_IN_SCRIPT.test(sql)) schemaGeneration++;
    return exec.call(this, sql);
  };
  Database.prototype.prepare = function cachedPrepare(sql: string): DriverStatement {
    if (DDL.test(sql)) schemaGeneration++;
    if (sql.length > MAX_CACHED_SQL) {
      statementCacheStats.misses++;
      return prepare.call(this, sql);
    }
    let entry = caches.get(this);
    if (!entry || entry.generation !== schemaGeneration) {
      entry = { generation: schemaGeneration, statements: new Map() };
      caches.set(this, entry);
    }
    const cache = entry.statements;
    const hit = cache.get(sql);
    if (hit) {
      statementCacheStats.hits++;
      cache.delete(sql); // re-insert: Map order is the LRU order
      cache.set(sql, hit);
      return hit;
    }
    statementCacheStats.misses++;
    const fresh = prepare.call(this, sql);
    if (fresh.reader && COLUMNS_STAR.test(withoutComments(sql))) return fresh;
    const stmt = reusable(
      fresh,
      () => {
        if (cache.get(sql) === stmt) cache.delete(sql);
      },
      () => prepare.call(this, sql),
    );
    cache.set(sql, stmt);
    if (cache.size > CACHED_STATEMENTS) cache.delete(cache.keys().next().value!);
    return stmt;
  };
}

/**
 * The statement, evicted when one of its executions throws. A reused statement keeps the
 * values bound by its last run, so a run passing fewer positional values than the first one
 * (a caller's mistake, which SQLite answers with NULLs) runs on a freshly prepared statement.
 */
function reusable(
  stmt: DriverStatement,
  evict: () => void,
  prepareFresh: () => DriverStatement,
): DriverStatement {
  // What the client set on this statement, to set it on a fresh one too.
  let positional: number | undefined;
  let rawMode: boolean | undefined;
  let safeMode: boolean | undefined;
  let notReader: unknown; // raw()'s error for a statement that returns no rows
  const freshLikeThis = () => {
    const fresh = prepareFresh();
    if (safeMode !== undefined) fresh.safeIntegers(safeMode);
    if (rawMode !== undefined && notReader === undefined) fresh.raw(rawMode);
    return fresh;
  };
  for (const method of ["run", "all", "get", "iterate"] as const) {
    const original = stmt[method];
    stmt[method] = function (this: DriverStatement, ...args: unknown[]) {
      const count = args.length === 1 && Array.isArray(args[0]) ? args[0].length : -1;
      positional ??= count;
      if (count !== positional) return freshLikeThis()[method](...args);
      try {
        return original.apply(this, args);
      } catch (err) {
        evict();
        throw err;
      }
    };
  }
  // The client calls raw(true) on every execute and takes a throw to mean "returns no rows":
  // remember that answer instead of building a new exception each time.
  const raw = stmt.raw;
  stmt.raw = function (this: DriverStatement, toggle?: boolean) {
    if (notReader !== undefined && toggle !== false) throw notReader;
    try {
      const out = raw.call(this, toggle);
      rawMode = toggle ?? true;
      return out;
    } catch (err) {
      notReader = err;
      throw err;
    }
  };
  const safeIntegers = stmt.safeIntegers;
  stmt.safeIntegers = function (this: DriverStatement, toggle?: boolean) {
    safeMode = toggle ?? true;
    return safeIntegers.call(this, toggle);
  };
  return stmt;
}
