import { loadConfig } from "../../runtime/config.ts";
import { type Database, openDatabase } from "../../runtime/db.ts";
import { applyMigrations } from "../../runtime/migrate.ts";
import type { ParsedArgs } from "../args.ts";

/**
 * Opens (and migrates) the database of a node's data dir for commands that work on it
 * directly, offline: keys, audit. The node may be running; libSQL's WAL lets both in.
 */
export async function withLocalDatabase<T>(
  args: ParsedArgs,
  env: NodeJS.ProcessEnv,
  fn: (database: Database) => Promise<T>,
): Promise<T> {
  const config = loadConfig("edge", args.flags, env);
  const database = await openDatabase(config.dbUrl, { authToken: config.dbAuthToken });
  try {
    await applyMigrations(database);
    return await fn(database);
  } finally {
    database.close();
  }
}
