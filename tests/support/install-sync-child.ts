import { openDatabase } from "../../runtime/db.ts";
import { applyMigrations } from "../../runtime/migrate.ts";
import { installSync } from "../../sync/install.ts";
import { SYNCED_TABLES } from "../../sync/tables.ts";

// `node --import tsx install-sync-child.ts <db path>`: what a node's start does to a database
// (migrate, install sync), for tests that start several processes on one file at once.
const database = await openDatabase(process.argv[2]!);
await applyMigrations(database);
await installSync(database, SYNCED_TABLES, { role: "edge", siteId: "old", schemaVersion: 1 });
database.close();
