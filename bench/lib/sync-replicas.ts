import { join } from "node:path";
import { type Database, openDatabase } from "../../runtime/db.ts";
import { applyMigrations } from "../../runtime/migrate.ts";
import type { SyncHub } from "../../sync/hub.ts";
import { installSync, type SyncContext } from "../../sync/install.ts";
import type { Role } from "../../sync/spec.ts";
import { SYNCED_TABLES } from "../../sync/tables.ts";
import { hubApp } from "../../tests/support/sync-harness.ts";

/** A migrated libSQL file in `dir`, with sync installed for `role` (site "bench-<name>"), or plain. */
export async function replica(
  dir: string,
  name: string,
  role: Role | null,
): Promise<{ database: Database; ctx?: SyncContext }> {
  const database = await openDatabase(join(dir, `${name}.db`));
  await applyMigrations(database);
  if (!role) return { database };
  const ctx = await installSync(database, SYNCED_TABLES, { role, siteId: `bench-${name}` });
  return { database, ctx };
}

/** The server's sync routes as a server node takes them: its default 1 MB body limit. */
export const benchHubApp = (hub: SyncHub) => hubApp(hub, undefined, 1024 * 1024);
