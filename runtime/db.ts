import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Client, Config } from "@libsql/client";
import { createClient as createLocalClient } from "@libsql/client/sqlite3";
import type { LibSQLDatabase } from "drizzle-orm/libsql";
import { drizzle } from "drizzle-orm/libsql/sqlite3";
import * as schema from "../schema/index.ts";
import { importPackage } from "./optional-package.ts";
import { installStatementCache } from "./statement-cache.ts";

export type Db = LibSQLDatabase<typeof schema>;

export interface Database {
  client: Client;
  db: Db;
  url: string;
  close(): void;
}

/**
 * Opens the node's libSQL database. A bare path or `file:` URL is a local file
 * (created with its folder); `libsql://`, `http(s)://` and `ws(s)://` reach a sqld/Turso
 * server when a scaled-out server shares one database. `:memory:` is for tests.
 */
export async function openDatabase(location: string, opts: { authToken?: string } = {}): Promise<Database> {
  const url = toUrl(location);
  const local = url.startsWith("file:");
  if (local) mkdirSync(dirname(url.slice("file:".length)), { recursive: true });
  // `timeout` is libSQL's busy timeout (ms) on every pooled connection: a server node and
  // its worker processes share the file, and writers wait for each other instead of failing.
  const config: Config = { url, authToken: opts.authToken, timeout: 10_000, concurrency: POOL_SIZE };
  // The local-only client loads in a third of the time of the full one, which also carries
  // the remote protocols; those load only when a remote URL is configured.
  const client = local
    ? createLocalClient(config)
    : (await importPackage<typeof import("@libsql/client")>("@libsql/client")).createClient(config);
  if (local) {
    installStatementCache(); // before the first statement: see statement-cache.ts
    // WAL lets readers proceed during a write; NORMAL sync is durable across process
    // crashes (only an OS crash can lose the last commits), which is the right trade on a gateway.
    await client.execute("PRAGMA journal_mode=WAL");
    await tuneEveryConnection(client);
  } else {
    await client.execute("PRAGMA foreign_keys=ON");
  }
  return { client, db: drizzle(client, { schema }), url, close: () => client.close() };
}

/** The client's pool size; small, since SQLite has one writer anyway. */
const POOL_SIZE = 4;

/**
 * Per-connection pragmas must reach every pooled connection, but the client opens them
 * lazily and offers no hook. Statements issued together each borrow a connection before
 * any is returned, so POOL_SIZE concurrent PRAGMAs open and tune every connection; the
 * pool keeps them for reuse.
 */
async function tuneEveryConnection(client: Client): Promise<void> {
  const all = (sql: string) => Promise.all(Array.from({ length: POOL_SIZE }, () => client.execute(sql)));
  await all("PRAGMA synchronous=NORMAL");
  await all("PRAGMA foreign_keys=ON");
}

function toUrl(location: string): string {
  if (location === ":memory:") return "file::memory:";
  if (/^(file|libsql|https?|wss?):/.test(location)) return location;
  return `file:${resolve(location)}`;
}
