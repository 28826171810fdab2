import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client, InValue } from "@libsql/client";
import type { Database } from "../runtime/db.ts";
import { createSyncClient } from "../sync/client.ts";
import { createSyncHub } from "../sync/hub.ts";
import type { SyncContext } from "../sync/install.ts";
import { pruneOutbox } from "../sync/outbox.ts";
import { startScript } from "./lib/servers.ts";
import { sqlSeconds } from "./lib/sql-time.ts";
import { benchHubApp, replica } from "./lib/sync-replicas.ts";

/*
 * Sync throughput. An edge makes N state writes while offline, then reconnects: sync_s is
 * the time to push them all to the server (in-process, through the real Hono routes: JSON,
 * validation, merge, apply, ack) — compared with inserting the same N rows straight into a
 * libSQL table (multi-row INSERTs of 500 in one transaction) in the same run. (Inserting
 * from one JSON text per 2,000 rows via json_each, as sync/rows.ts does, is ~30% cheaper
 * still here; the baseline stays as it was so the recorded ratios compare.) The reconnect
 * is measured `rounds` times (5), alternating with the direct insert; figures are medians.
 * processes_s: the same reconnect with the server in its own process (bench/sync-server.ts),
 * over HTTP on 127.0.0.1, as deployed: the edge reads its next batch while the server
 * applies the last one.
 * pull_s: a fresh second edge pulling the same N changes from the server.
 * The outbox bench: the same single-row writes with and without capture triggers.
 */

const round3 = (n: number) => Math.round(n * 1000) / 1000;
const seconds = (t0: number) => (performance.now() - t0) / 1000;
const cpuSeconds = (c0: NodeJS.CpuUsage) => {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
};

const rowsFor = (n: number, tag: string): InValue[][] =>
  Array.from({ length: n }, (_, i) => [
    "bench",
    `${tag}-${i}`,
    JSON.stringify({ i, reading: i * 0.5, unit: "celsius" }),
    1_700_000_000_000 + i,
  ]);

/** Multi-row INSERTs of 500 in one transaction. */
async function insertRows(client: Client, rows: InValue[][]): Promise<void> {
  const tx = await client.transaction("write");
  try {
    for (let i = 0; i < rows.length; i += 500) {
      const part = rows.slice(i, i + 500);
      await tx.execute({
        sql: `INSERT INTO state (namespace, key, value, updated_at) VALUES ${part.map(() => "(?, ?, ?, ?)").join(", ")}`,
        args: part.flat(),
      });
    }
    await tx.commit();
  } finally {
    tx.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** {bench:"sync", changes, rounds, sync_s, raw_insert_s, ratio, ratios, cpu_ratio, changes_per_s, sql_s, sql_ratio, processes_s, processes_ratio, pull_s, pull_changes_per_s, edge_fold_s} */
export async function runSyncBench(
  opts: { changes?: number; rounds?: number } = {},
): Promise<Record<string, unknown>> {
  const n = opts.changes ?? 100_000;
  const rounds = opts.rounds ?? 5;
  const dir = mkdtempSync(join(tmpdir(), "sutazai-bench-sync-"));
  const open: Database[] = [];
  const stops: Array<() => Promise<void>> = [];
  const opened = async (name: string, role: "server" | "edge" | null) => {
    const r = await replica(dir, name, role);
    open.push(r.database);
    return r;
  };
  try {
    const rows = rowsFor(n, "k");
    // Each round reconnects its own edge (N offline writes, captured into its outbox) to its
    // own empty server: the same reconnect, measured `rounds` times.
    const pairs: Array<{ server: SyncContext; edge: SyncContext }> = [];
    for (let i = 0; i < rounds; i++) {
      const server = await opened(`server${i}`, "server");
      const edge = await opened(`edge${i}`, "edge");
      await insertRows(edge.database.client, rows);
      pairs.push({ server: server.ctx!, edge: edge.ctx! });
    }
    const plains: Database[] = [];
    for (let i = 0; i <= rounds; i++) plains.push((await opened(`plain${i}`, null)).database);
    const fresh = await opened("fresh", "edge");
    const apart = await opened("apart", "edge"); // pushes to a server in another process
    await insertRows(apart.database.client, rows);
    const serverDir = mkdtempSync(join(tmpdir(), "sutazai-bench-sync-server-"));
    const remote = await startScript("sync-server.ts", ["--data-dir", serverDir]);
    stops.push(async () => {
      await remote.stop();
      rmSync(serverDir, { recursive: true, force: true });
    });
    const client = (server: SyncContext, ctx: SyncContext) => {
      const app = benchHubApp(createSyncHub(server));
      const fetch = async (url: string, init: RequestInit) => app.request(url, init);
      return createSyncClient({
        ctx,
        serverUrl: "http://server",
        serverKey: "bench",
        fetch,
        pullLimit: 5000,
      });
    };

    // The plain insert and the sync alternate (raw, sync, raw, sync, ..., raw), and each sync
    // is compared with the mean of the inserts on either side of it: load on a shared machine
    // drifts over seconds, and one sample swung the ratio by ±15%. The median round is the figure.
    const raw = async (i: number) => {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      await insertRows(plains[i]!.client, rows);
      return { s: seconds(t0), cpu: cpuSeconds(c0) };
    };
    const raws = [await raw(0)];
    const syncs: Array<{ s: number; cpu: number; sql: number }> = [];
    for (let i = 0; i < rounds; i++) {
      const { server, edge } = pairs[i]!;
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const { value: pushed, sqlS } = await sqlSeconds(() => client(server, edge).syncNow());
      syncs.push({ s: seconds(t0), cpu: cpuSeconds(c0), sql: sqlS });
      if (pushed.pushed !== n) throw new Error(`bench: pushed ${pushed.pushed} of ${n} changes`);
      raws.push(await raw(i + 1));
    }
    const around = (i: number, k: "s" | "cpu") => (raws[i]![k] + raws[i + 1]![k]) / 2;
    const ratios = syncs.map((x, i) => x.s / around(i, "s"));
    const rawS = median(raws.map((r) => r.s));

    // The same reconnect with the server in its own process, over HTTP on 127.0.0.1: as
    // deployed, the edge's work (reading the outbox, recording acknowledgements) runs on
    // its own CPU, beside the server's.
    let t0 = performance.now();
    const overHttp = await createSyncClient({
      ctx: apart.ctx!,
      serverUrl: remote.url,
      serverKey: "bench",
      pullLimit: 5000,
    }).syncNow();
    const separate = seconds(t0);
    if (overHttp.pushed !== n) throw new Error(`bench: pushed ${overHttp.pushed} of ${n} changes over HTTP`);

    // Not part of the reconnect: the edge folds its own writes' stamps into the merge
    // metadata and drops the acknowledged outbox rows in the background afterwards
    // (SyncClient.maintain). Reported so the deferred cost is visible.
    t0 = performance.now();
    await pruneOutbox(pairs[0]!.edge);
    const fold = seconds(t0);

    t0 = performance.now();
    const pulled = await client(pairs[0]!.server, fresh.ctx!).syncNow();
    const pull = seconds(t0);
    if (pulled.pulled !== n) throw new Error(`bench: pulled ${pulled.pulled} of ${n} changes`);

    const syncS = median(syncs.map((x) => x.s));
    return {
      bench: "sync",
      changes: n,
      rounds,
      sync_s: round3(syncS),
      raw_insert_s: round3(rawS),
      ratio: round3(median(ratios)),
      ratios: ratios.map(round3),
      // The same ratio in CPU time of this process (the driver is synchronous, so that is
      // the work done): steadier than wall time on a shared machine.
      cpu_ratio: round3(median(syncs.map((x, i) => x.cpu / around(i, "cpu")))),
      changes_per_s: Math.round(n / syncS),
      // Of sync_s, the time inside SQLite (edge and server statements and commits): the
      // storage work alone, against the same direct insert. Not a goal; what bounds it.
      sql_s: round3(median(syncs.map((x) => x.sql))),
      sql_ratio: round3(median(syncs.map((x, i) => x.sql / around(i, "s")))),
      processes_s: round3(separate),
      processes_ratio: round3(separate / rawS),
      pull_s: round3(pull),
      pull_changes_per_s: Math.round(n / pull),
      edge_fold_s: round3(fold),
    };
  } finally {
    for (const stop of stops) await stop();
    for (const d of open) d.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * {bench:"sync-outbox", writes, with_triggers_s, without_s, ratio, batched_ratio}.
 * ratio: one autocommit upsert per write, as the state API does. batched_ratio: the same
 * writes as multi-row INSERTs of 500 in one transaction (where trigger execution, not
 * statement preparation, is what is measured).
 */
export async function runSyncOutboxBench(opts: { writes?: number } = {}): Promise<Record<string, unknown>> {
  const n = opts.writes ?? 5_000;
  const dir = mkdtempSync(join(tmpdir(), "sutazai-bench-outbox-"));
  const open: Database[] = [];
  try {
    const withSync = await replica(dir, "with", "edge");
    const without = await replica(dir, "without", null);
    open.push(withSync.database, without.database);
    const upsert =
      "INSERT INTO state (namespace, key, value, updated_at) VALUES (?, ?, ?, ?) " +
      "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
    // Half inserts, half updates of existing keys: the mix a key-value store sees.
    const rows = rowsFor(n, "w").map((r, i) => (i % 2 ? ["bench", `w-${i - 1}`, r[2]!, r[3]!] : r));
    const single = async (client: Client, part: InValue[][]) => {
      for (const args of part) await client.execute({ sql: upsert, args });
    };
    const single_ = await alternate(
      rows,
      100,
      (part) => single(withSync.database.client, part),
      (part) => single(without.database.client, part),
    );
    const fresh = rowsFor(n * 10, "b");
    const batched = await alternate(
      fresh,
      500,
      (part) => insertRows(withSync.database.client, part),
      (part) => insertRows(without.database.client, part),
    );
    return {
      bench: "sync-outbox",
      writes: n,
      with_triggers_s: round3(single_.a),
      without_s: round3(single_.b),
      ratio: round3(single_.ratio),
      batched_ratio: round3(batched.ratio),
    };
  } finally {
    for (const d of open) d.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs `a` and `b` on alternating blocks, each side first in turn: on a shared machine load
 * drifts over seconds, and blocks of a few ms see the same load on both sides. The median
 * block ratio is the figure; a and b are the summed seconds.
 */
async function alternate(
  rows: InValue[][],
  block: number,
  a: (part: InValue[][]) => Promise<void>,
  b: (part: InValue[][]) => Promise<void>,
): Promise<{ a: number; b: number; ratio: number }> {
  const time = async (f: () => Promise<void>) => {
    const t0 = performance.now();
    await f();
    return seconds(t0);
  };
  let sumA = 0;
  let sumB = 0;
  const ratios: number[] = [];
  for (let i = 0; i < rows.length; i += block) {
    const part = rows.slice(i, i + block);
    const aFirst = (i / block) % 2 === 0;
    const ta = aFirst ? await time(() => a(part)) : 0;
    const tb = await time(() => b(part));
    const ta2 = aFirst ? ta : await time(() => a(part));
    sumA += ta2;
    sumB += tb;
    ratios.push(ta2 / tb);
  }
  ratios.sort((x, y) => x - y);
  return { a: sumA, b: sumB, ratio: ratios[Math.floor(ratios.length / 2)]! };
}
