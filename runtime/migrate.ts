import { fileURLToPath } from "node:url";
import { migrate } from "drizzle-orm/libsql/migrator";
import type { Database } from "./db.ts";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../schema/migrations", import.meta.url));

/**
 * Applies the drizzle-kit migrations under schema/migrations. Idempotent: drizzle records
 * applied migrations in `__drizzle_migrations`, so running it at every start is cheap.
 */
export async function applyMigrations(database: Database): Promise<void> {
  await migrate(database.db, { migrationsFolder: MIGRATIONS_DIR });
}
