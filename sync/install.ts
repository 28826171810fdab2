import type { Client } from "@libsql/client";
import { uuidv7 } from "../runtime/ids.ts";
import { applyRemote } from "./apply.ts";
import { backfillSql, syncMigrationSql, syncStatements } from "./capture.ts";
import { HybridClock, MAX_DRIFT_MS } from "./clock.ts";
import { writeBatch, writeTransaction } from "./lane.ts";
import { changeLogUpgrade } from "./log-seq.ts";
import type { SnapshotRow, WireChange } from "./protocol.ts";
import { type ResolvedTable, type Role, resolveTable, type SyncedTableSpec, sends } from "./spec.ts";
import { recordUniformColumns, uniformColumns } from "./stored-stamps.ts";
import { SYNCED_TABLES } from "./tables.ts";

/** What every other sync module works with: one replica's database, identity and tables. */
export interface SyncContext {
  client: Client;
  role: Role;
  siteId: string;
  schemaVersion: number;
  /** in apply order */
  tables: ResolvedTable[];
  table(name: string): ResolvedTable | undefined;
  clock: HybridClock;
  /** synced tables the database does not have (yet): skipped, not captured */
  missingTables: string[];
}

export interface InstallOptions {
  role: Role;
  /** stable id of this replica; pass the node id. Ignored once the database has one. */
  siteId?: string;
  /** defaults to the number of applied drizzle migrations */
  schemaVersion?: number;
  maxDriftMs?: number;
}

/**
 * Sets up sync on a database and returns its context. Idempotent; call it at every node
 * start, after migrations. Creates the sync tables if no migration has yet (IF NOT EXISTS),
 * (re)creates the capture triggers, creates the clock row, and captures the rows that
 * already exist in a table synced here for the first time.
 *
 * @example
 *   const sync = await installSync(database, SYNCED_TABLES, { role: "edge", siteId: nodeId });
 */
export async function installSync(
  database: { client: Client },
  specs: SyncedTableSpec[],
  opts: InstallOptions,
): Promise<SyncContext> {
  const { client } = database;
  const resolved = specs.map(resolveTable);
  const existing = new Set(
    (await client.execute("SELECT name FROM sqlite_master WHERE type = 'table'")).rows.map((r) =>
      String(r.name),
    ),
  );
  // A table the code knows but the database does not have yet (its migration is pending)
  // is skipped rather than failing the node's start; ctx.missingTables says which.
  const present = (t: ResolvedTable) =>
    existing.has(t.name) && (opts.role !== "server" || !t.into || existing.has(t.into.name));
  const tables = resolved.filter(present);
  // One write transaction: a server and its workers may start together on one database
  // file, and interleaved DROP/CREATE TRIGGER from two processes would collide. Whether the
  // change log needs its upgrade is read inside it: another process may have just done it.
  await writeTransaction(client, async (tx) => {
    const upgrade = await changeLogUpgrade(tx);
    await tx.executeMultiple([...upgrade, ...syncStatements(tables, opts.role)].join("\n"));
    await recordUniformColumns(tx, tables);
  });
  const schemaVersion = opts.schemaVersion ?? (await countMigrations(client));
  await writeBatch(client, [
    {
      sql:
        "INSERT INTO sync_clock (id, site_id, role, schema_version) VALUES (1, ?, ?, ?) " +
        "ON CONFLICT (id) DO UPDATE SET role = excluded.role, schema_version = excluded.schema_version, applying = 0",
      args: [opts.siteId ?? uuidv7(), opts.role, schemaVersion],
    },
    // An edge's bookkeeping about its server: acknowledged outbox seq, pull cursor.
    ...(opts.role === "edge"
      ? [{ sql: "INSERT INTO sync_peers (site) VALUES ('upstream') ON CONFLICT DO NOTHING", args: [] }]
      : []),
  ]);
  const row = (await client.execute("SELECT site_id FROM sync_clock WHERE id = 1")).rows[0]!;
  const siteId = String(row.site_id);
  await backfillNewTables(client, tables, opts.role);
  const byName = new Map(tables.map((t) => [t.name, t]));
  const ctx: SyncContext = {
    client,
    role: opts.role,
    siteId,
    schemaVersion,
    tables,
    table: (name) => byName.get(name),
    clock: new HybridClock(client, siteId, opts.maxDriftMs ?? MAX_DRIFT_MS),
    missingTables: resolved.filter((t) => !present(t)).map((t) => t.name),
  };
  await retryHeld(ctx); // changes held for columns this version may now know
  return ctx;
}

async function backfillNewTables(client: Client, tables: ResolvedTable[], role: Role): Promise<void> {
  const known = new Set((await client.execute("SELECT tbl FROM sync_tables")).rows.map((r) => String(r.tbl)));
  const fresh = tables.filter((t) => !known.has(t.name));
  if (fresh.length === 0) return;
  const stmts = fresh.flatMap((t) => [
    ...(sends(role, t) ? backfillSql(t) : []),
    {
      sql: "INSERT INTO sync_tables (tbl, installed_at, uniform_cols) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
      args: [t.name, Date.now(), uniformColumns(t)],
    },
  ]);
  await writeBatch(client, stmts);
}

async function countMigrations(client: Client): Promise<number> {
  const exists = await client.execute(
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'",
  );
  if (exists.rows.length === 0) return 0;
  return Number((await client.execute("SELECT COUNT(*) AS n FROM __drizzle_migrations")).rows[0]!.n);
}

/**
 * The migration to ship: sync tables and capture triggers for `specs`, as a drizzle
 * migration file. @example writeFileSync("schema/migrations/0005_sync.sql", syncMigration())
 */
export function syncMigration(specs: SyncedTableSpec[] = SYNCED_TABLES): string {
  return syncMigrationSql(specs.map(resolveTable));
}

/**
 * Re-applies changes held back because this node did not know their table or columns (a
 * newer peer sent them), and changes a constraint refused. installSync calls it at start-up,
 * i.e. after an upgrade or an operator's fix; whatever still cannot apply is set aside again.
 */
async function retryHeld(ctx: SyncContext): Promise<number> {
  // Also changes a constraint refused (a unique name taken by a local row, a parent that
  // was refused with it): an operator may have cleared the clash since. Applying an old
  // change again is safe — merge is idempotent and the newer write still wins.
  const rs = await ctx.client.execute(
    "SELECT id, change FROM sync_quarantine WHERE kind = 'held' OR (kind = 'rejected' AND reason LIKE '%constraint failed%') ORDER BY id",
  );
  if (rs.rows.length === 0) return 0;
  const changes: WireChange[] = [];
  const rows: SnapshotRow[] = [];
  for (const r of rs.rows) {
    const held = JSON.parse(String(r.change)) as WireChange | SnapshotRow;
    if ("op" in held) changes.push(held);
    else rows.push(held);
  }
  const ids = JSON.stringify(rs.rows.map((r) => Number(r.id)));
  const result = await applyRemote(ctx, {
    from: "held changes",
    changes,
    rows,
    log: ctx.role === "server",
    record: async (tx) => {
      await tx.execute({
        sql: "DELETE FROM sync_quarantine WHERE id IN (SELECT value FROM json_each(?))",
        args: [ids],
      });
    },
  });
  return rs.rows.length - result.held;
}
