import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../runtime/config.ts";
import { type Database, openDatabase } from "../../runtime/db.ts";
import { applyMigrations, MIGRATIONS_DIR } from "../../runtime/migrate.ts";
import { configFlags, noPositionals } from "./node-flags.ts";
import type { Command } from "./types.ts";

export const migrateCommand: Command = {
  name: "migrate",
  summary: "apply database migrations (idempotent) and print the schema version",
  usage: "sutazai migrate [--data-dir ./data | --db-url URL]",
  positionals: false,
  flags: configFlags(["dataDir", "dbUrl", "dbAuthToken"]),
  details:
    "Nodes also migrate at start-up; run this ahead of a deploy, or against a shared remote database once.",
  async run(args, env) {
    noPositionals("migrate", args.positionals);
    const config = loadConfig("edge", args.flags, env);
    const database = await openDatabase(config.dbUrl, { authToken: config.dbAuthToken });
    try {
      const before = await appliedCount(database);
      await applyMigrations(database);
      const after = await appliedCount(database);
      const tags = migrationTags();
      const version = tags[after - 1] ?? "none";
      const where = displayLocation(database.url);
      if (after === before) {
        process.stdout.write(
          `${where} is up to date: schema version ${version} (${after} migration${after === 1 ? "" : "s"} applied).\n`,
        );
      } else {
        const applied = tags.slice(before, after);
        process.stdout.write(
          `${where}: applied ${applied.length} migration${applied.length === 1 ? "" : "s"} (${applied.join(", ")}); schema version ${version}.\n`,
        );
      }
      return 0;
    } finally {
      database.close();
    }
  },
};

/** drizzle records each applied migration as one row of __drizzle_migrations. */
async function appliedCount(database: Database): Promise<number> {
  const table = await database.client.execute(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'",
  );
  if (table.rows.length === 0) return 0;
  const rs = await database.client.execute("SELECT count(*) AS n FROM __drizzle_migrations");
  return Number(rs.rows[0]?.n ?? 0);
}

function migrationTags(): string[] {
  const journal = JSON.parse(readFileSync(join(MIGRATIONS_DIR, "meta", "_journal.json"), "utf8")) as {
    entries: Array<{ tag: string }>;
  };
  return journal.entries.map((e) => e.tag);
}

/** A file path as is; a remote URL without its query string, which may carry a token. */
function displayLocation(url: string): string {
  if (url.startsWith("file:")) return url.slice("file:".length);
  return url.replace(/[?#].*$/, "").replace(/\/\/[^@/]*@/, "//***@");
}
