import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { InValue } from "@libsql/client";
import type { Principal } from "../../runtime/auth/principal.ts";
import { type Database, openDatabase } from "../../runtime/db.ts";
import { errorHandler } from "../../runtime/http/error-handler.ts";
import { jsonBody } from "../../runtime/http/json-body.ts";
import { silentLogger } from "../../runtime/log.ts";
import { applyMigrations } from "../../runtime/migrate.ts";
import type { AppEnv } from "../../runtime/platform.ts";
import type { SyncHub } from "../../sync/hub.ts";
import { installSync, type SyncContext } from "../../sync/install.ts";
import type { WireChange } from "../../sync/protocol.ts";
import { syncHubRoutes } from "../../sync/routes.ts";
import type { Role, SyncedTableSpec } from "../../sync/spec.ts";
import { SYNCED_TABLES } from "../../sync/tables.ts";
import type { SyncFetch } from "../../sync/transport.ts";

/** Upserts key ?1 of namespace "ns" with value ?2 and updated_at ?3: the write most sync tests make. */
export const PUT_STATE =
  "INSERT INTO state (namespace, key, value, updated_at) VALUES ('ns', ?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";

/** A wire change inserting key `key` of namespace "ns" into state: the change tests hand-make most. */
export function stateInsert(
  seq: number,
  key: string,
  cols: { value: string; updated_at: number },
  hlc: string,
  site = "site-a",
): WireChange {
  return { seq, tbl: "state", pk: ["ns", key], op: "insert", cols, hlc, site, sv: 1 };
}

/** One replica: a migrated libSQL file with sync installed. */
export interface Replica {
  name: string;
  database: Database;
  ctx: SyncContext;
  exec(sql: string, args?: InValue[]): Promise<number>;
  close(): void;
}

export interface TempDir {
  path: string;
  remove(): void;
}

export function tempDir(prefix = "sutazai-sync-"): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export async function openReplica(
  dir: string,
  name: string,
  role: Role,
  opts: { tables?: SyncedTableSpec[]; schemaVersion?: number; maxDriftMs?: number; memory?: boolean } = {},
): Promise<Replica> {
  // In-memory replicas are for long property runs: libSQL releases a closed file's
  // descriptors only when its objects are garbage-collected, and thousands of replicas
  // opened while fast-check shrinks would run the process out of them.
  const database = await openDatabase(opts.memory ? ":memory:" : join(dir, `${name}.db`));
  await applyMigrations(database);
  const ctx = await installSync(database, opts.tables ?? SYNCED_TABLES, {
    role,
    siteId: `site-${name}`,
    schemaVersion: opts.schemaVersion ?? 1,
    maxDriftMs: opts.maxDriftMs,
  });
  return {
    name,
    database,
    ctx,
    exec: async (sql, args = []) => (await database.client.execute({ sql, args })).rowsAffected,
    close: () => database.close(),
  };
}

const NODE_PRINCIPAL: Principal = Object.freeze({ id: "key-node", role: "node", via: "key" });

/**
 * The hub's routes in a bare app with the platform's body parsing and error rendering; callers
 * are `node` keys. (The benchmark serves it too, with the server's default 1 MB body limit.)
 */
export function hubApp(
  hub: SyncHub,
  principal: Principal = NODE_PRINCIPAL,
  bodyLimit = 8 * 1024 * 1024,
): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.onError(errorHandler(silentLogger));
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.use("/v1/*", async (c, next) => {
    c.set("principal", principal);
    return next();
  });
  app.use("/v1/*", jsonBody(bodyLimit));
  app.route("/", syncHubRoutes({ hub }));
  return app;
}

/** What happens to one request on its way: the test transport's menu of failures. */
export type Fault = "ok" | "drop-request" | "drop-response" | "duplicate" | "delay";

/**
 * A fetch into an in-process app that fails on demand: requests lost before or after the
 * server handled them, delivered twice, or held back and delivered later (reordered).
 */
export class FaultyNetwork {
  private readonly held: Array<() => Promise<unknown>> = [];
  plan: Fault[] = [];
  offline = false;

  constructor(
    private readonly app: { request(url: string, init: RequestInit): Response | Promise<Response> },
  ) {}

  readonly fetch: SyncFetch = async (url, init) => {
    if (this.offline) throw new TypeError("fetch failed: network unreachable");
    const fault = this.plan.shift() ?? "ok";
    const body = typeof init.body === "string" ? init.body : undefined;
    const send = async () => this.app.request(url, { method: init.method, headers: init.headers, body });
    switch (fault) {
      case "drop-request":
        throw new TypeError("fetch failed: connection reset (request lost)");
      case "drop-response":
        await send();
        await this.deliverHeld();
        throw new TypeError("fetch failed: connection reset (response lost)");
      case "duplicate":
        await send();
        break;
      case "delay":
        this.held.push(send);
        throw new TypeError("fetch failed: timeout (request still in flight)");
    }
    const res = await send();
    // Requests held back earlier land now, after a newer one: reordered delivery.
    await this.deliverHeld();
    return res;
  };

  async deliverHeld(): Promise<void> {
    for (const send of this.held.splice(0)) await send();
  }
}

export interface StateRow {
  namespace: string;
  key: string;
  value: string;
  updated_at: number;
}

export async function readState(replica: Replica): Promise<StateRow[]> {
  const rs = await replica.database.client.execute(
    "SELECT namespace, key, value, updated_at FROM state ORDER BY namespace, key",
  );
  return rs.rows.map((r) => ({
    namespace: String(r.namespace),
    key: String(r.key),
    value: String(r.value),
    updated_at: Number(r.updated_at),
  }));
}

/** Captured changes of one site with seq > after (the replica's own writes, in order). */
export async function ownChanges(replica: Replica, after: number) {
  const rs = await replica.database.client.execute({
    sql: "SELECT seq, tbl, pk, op, cols, printf('%016x', hlc) AS hlc, site FROM sync_changes WHERE seq > ? AND site = ? ORDER BY seq",
    args: [after, replica.ctx.siteId],
  });
  return rs.rows.map((r) => ({
    seq: Number(r.seq),
    tbl: String(r.tbl),
    pk: String(r.pk),
    op: String(r.op),
    cols: r.cols === null ? null : (JSON.parse(String(r.cols)) as Record<string, unknown>),
    stamp: `${r.hlc}:${r.site}`,
  }));
}
