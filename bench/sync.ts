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
 * Sync throughput. One edge makes N state writes while offline, then reconnects: sync_s is
 * the time to push them all to the server (in-process, through the real Hono routes: JSON,
 * validation, merge, apply, ack) — compared with inserting the same N rows straight into a
 * libSQL table (multi-row INSERTs of 500 in one transaction) in the same run. (Inserting
 * from one JSON text per 2,000 rows via json_each, as sync/rows.ts does, is ~30% cheaper
 * still here; the baseline stays as it was so the recorded ratios compare.)
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

/** {bench:"sync", changes, sync_s, raw_insert_s, ratio, cpu_ratio, changes_per_s, sql_s, sql_ratio, processes_s, processes_ratio, pull_s, pull_changes_per_s, edge_fold_s} */
export async function runSyncBench(opts: { changes?: number } = {}): Promise<Record<string, unknown>> {
  const n = opts.changes ?? 100_000;
  const dir = mkdtempSync(join(tmpdir(), "sutazai-bench-sync-"));
  const open: Database[] = [];
  const stops: Array<() => Promise<void>> = [];
  try {
    const server = await replica(dir, "server", "server");
    const edge = await replica(dir, "edge", "edge");
    const fresh = await replica(dir, "edge2", "edge");
    const plain = await replica(dir, "plain", null);
    const plain2 = await replica(dir, "plain2", null);
    const apart = await replica(dir, "edge3", "edge"); // pushes to a server in another process
    open.push(
      server.database,
      edge.database,
      fresh.database,
      plain.database,
      plain2.database,
      apart.database,
    );
    const serverDir = mkdtempSync(join(tmpdir(), "sutazai-bench-sync-server-"));
    const remote = await startScript("sync-server.ts", ["--data-dir", serverDir]);
    stops.push(async () => {
      await remote.stop();
      rmSync(serverDir, { recursive: true, force: true });
    });
    const app = benchHubApp(createSyncHub(server.ctx!));
    const fetch = async (url: string, init: RequestInit) => app.request(url, init);
    const client = (ctx: SyncContext) =>
      createSyncClient({ ctx, serverUrl: "http://server", serverKey: "bench", fetch, pullLimit: 5000 });

    const rows = rowsFor(n, "k");
    await insertRows(edge.database.client, rows); // offline writes: captured into the outbox
    await insertRows(apart.database.client, rows);

    // The plain insert runs before and after the sync and counts as their mean, so load that
    // drifts during the run (a shared machine) weighs on both sides alike.
    let t0 = performance.now();
    let c0 = process.cpuUsage();
    await insertRows(plain.database.client, rows);
    let raw = seconds(t0);
    let rawCpu = cpuSeconds(c0);

    t0 = performance.now();
    c0 = process.cpuUsage();
    const { value: pushed, sqlS } = await sqlSeconds(() => client(edge.ctx!).syncNow());
    const sync = seconds(t0);
    const syncCpu = cpuSeconds(c0);
    if (pushed.pushed !== n) throw new Error(`bench: pushed ${pushed.pushed} of ${n} changes`);

    // The same reconnect with the server in its own process, over HTTP on 127.0.0.1: as
    // deployed, the edge's work (reading the outbox, recording acknowledgements) runs on
    // its own CPU, beside the server's.
    t0 = performance.now();
    const overHttp = await createSyncClient({
      ctx: apart.ctx!,
      serverUrl: remote.url,
      serverKey: "bench",
      pullLimit: 5000,
    }).syncNow();
    const separate = seconds(t0);
    if (overHttp.pushed !== n) throw new Error(`bench: pushed ${overHttp.pushed} of ${n} changes over HTTP`);

    t0 = performance.now();
    c0 = process.cpuUsage();
    await insertRows(plain2.database.client, rows);
    raw = (raw + seconds(t0)) / 2;
    rawCpu = (rawCpu + cpuSeconds(c0)) / 2;

    // Not part of the reconnect: the edge folds its own writes' stamps into the merge
    // metadata and drops the acknowledged outbox rows in the background afterwards
    // (SyncClient.maintain). Reported so the deferred cost is visible.
    t0 = performance.now();
    await pruneOutbox(edge.ctx!);
    const fold = seconds(t0);

    t0 = performance.now();
    const pulled = await client(fresh.ctx!).syncNow();
    const pull = seconds(t0);
    if (pulled.pulled !== n) throw new Error(`bench: pulled ${pulled.pulled} of ${n} changes`);

    return {
      bench: "sync",
      changes: n,
      sync_s: round3(sync),
      raw_insert_s: round3(raw),
      ratio: round3(sync / raw),
      // The same ratio in CPU time of this process (the driver is synchronous, so that is
      // the work done): far steadier than wall time on a shared machine.
      cpu_ratio: round3(syncCpu / rawCpu),
      changes_per_s: Math.round(n / sync),
      // Of sync_s, the time inside SQLite (edge and server statements and commits): the
      // storage work alone, against the same direct insert. Not a goal; what bounds it.
      sql_s: round3(sqlS),
      sql_ratio: round3(sqlS / raw),
      processes_s: round3(separate),
      processes_ratio: round3(separate / raw),
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
