import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createSyncClient, type SyncClient } from "../sync/client.ts";
import { foldNow } from "../sync/fold.ts";
import { createSyncHub } from "../sync/hub.ts";
import {
  type Fault,
  FaultyNetwork,
  hubApp,
  openReplica,
  ownChanges,
  PUT_STATE,
  type Replica,
  readState,
  type StateRow,
  tempDir,
} from "./support/sync-harness.ts";

/*
 * 1 server + 3-5 edges, each on its own libSQL file. Random interleavings of raw-SQL writes
 * and deletes on every replica, partial syncs over a network that loses, duplicates and
 * reorders requests, crashes between apply and ack on both sides, and clocks jumping back
 * and forth, outbox maintenance, and the server dropping its change log (forcing edges to
 * re-bootstrap from a snapshot). After the network heals, the clocks agree again and every edge syncs twice,
 * every replica must hold the same `state` rows — the ones a reference model of the merge
 * rules computes from every captured change.
 */

type Op =
  | { kind: "put"; r: number; key: number; value: number; ts: number }
  | { kind: "set-value"; r: number; key: number; value: number }
  | { kind: "set-ts"; r: number; key: number; ts: number }
  | { kind: "delete"; r: number; key: number }
  | { kind: "sync"; e: number; faults: Fault[]; crashPull: boolean; crashServer: boolean }
  | { kind: "clock"; r: number; offsetMin: number }
  | { kind: "maintain"; e: number }
  | { kind: "truncate-log" };

const replicaIdx = fc.nat({ max: 5 });
const key = fc.nat({ max: 2 });
const small = fc.nat({ max: 50 });
const fault = fc.constantFrom<Fault>(
  "ok",
  "ok",
  "ok",
  "ok",
  "ok",
  "drop-request",
  "drop-response",
  "duplicate",
  "delay",
);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant("put" as const), r: replicaIdx, key, value: small, ts: small }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("set-value" as const), r: replicaIdx, key, value: small }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("set-ts" as const), r: replicaIdx, key, ts: small }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), r: replicaIdx, key }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("sync" as const),
      e: fc.nat({ max: 4 }),
      faults: fc.oneof(fc.constant<Fault[]>([]), fc.array(fault, { maxLength: 4 })),
      crashPull: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
      crashServer: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("clock" as const),
      r: replicaIdx,
      offsetMin: fc.integer({ min: -12, max: 12 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("maintain" as const), e: fc.nat({ max: 4 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "truncate-log" as const }) },
);

/** The reference model: per key, per column the newest write; the row lives iff it is newer than the newest delete. */
class Model {
  private readonly rows = new Map<
    string,
    { cols: Record<string, { v: unknown; s: string }>; del?: string }
  >();

  record(changes: Awaited<ReturnType<typeof ownChanges>>): void {
    for (const c of changes) {
      const row = this.rows.get(c.pk) ?? { cols: {} };
      this.rows.set(c.pk, row);
      if (c.op === "delete") {
        // (a captured delete also holds the row's last values, for its tombstone: not a write)
        row.del = row.del && row.del > c.stamp ? row.del : c.stamp;
        continue;
      }
      for (const [name, v] of Object.entries(c.cols ?? {})) {
        const reg = row.cols[name];
        if (!reg || c.stamp > reg.s) row.cols[name] = { v, s: c.stamp };
      }
    }
  }

  expected(): StateRow[] {
    const out: StateRow[] = [];
    for (const [pk, row] of this.rows) {
      // Stamps are strings ordered as (HLC, site): compare them as strings.
      let top = "";
      for (const r of Object.values(row.cols)) if (r.s > top) top = r.s;
      if (!top || (row.del && row.del >= top)) continue;
      const [namespace, key] = JSON.parse(pk) as [string, string];
      out.push({
        namespace,
        key,
        value: String(row.cols.value!.v),
        updated_at: Number(row.cols.updated_at!.v),
      });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}

async function scenario(edgeCount: number, ops: Op[]): Promise<void> {
  const dir = tempDir("sutazai-conv-");
  const replicas: Replica[] = [];
  const clients: SyncClient[] = [];
  try {
    const server = await openReplica(dir.path, "server", "server", { memory: true });
    replicas.push(server);
    let crashServer = false;
    const hub = createSyncHub(server.ctx, {
      beforeCommit: () => {
        if (!crashServer) return;
        crashServer = false;
        throw new Error("simulated server crash before commit");
      },
    });
    const net = new FaultyNetwork(hubApp(hub));
    const crashPull: boolean[] = [];
    for (let i = 0; i < edgeCount; i++) {
      const edge = await openReplica(dir.path, `edge${i}`, "edge", { memory: true });
      replicas.push(edge);
      crashPull.push(false);
      clients.push(
        createSyncClient({
          ctx: edge.ctx,
          serverUrl: "http://hub.test",
          serverKey: "node-key",
          fetch: net.fetch,
          pushBatchSize: 3,
          pullLimit: 4,
          beforeCommit: () => {
            if (!crashPull[i]) return;
            crashPull[i] = false;
            throw new Error("simulated edge crash before commit");
          },
        }),
      );
    }
    const model = new Model();
    const seen = replicas.map(() => 0);
    const write = async (r: number, sql: string, args: Array<string | number>) => {
      const replica = replicas[r % replicas.length]!;
      await replica.exec(sql, args);
      const changes = await ownChanges(replica, seen[r % replicas.length]!);
      if (changes.length) seen[r % replicas.length] = changes[changes.length - 1]!.seq;
      model.record(changes);
    };
    const where = "WHERE namespace = 'ns' AND key = ?";
    for (const o of ops) {
      const k = `k${"key" in o ? o.key : 0}`;
      if (o.kind === "put") {
        await write(o.r, PUT_STATE, [k, `v${o.value}`, o.ts]);
      } else if (o.kind === "set-value") {
        await write(o.r, `UPDATE state SET value = ? ${where}`, [`v${o.value}`, k]);
      } else if (o.kind === "set-ts") {
        await write(o.r, `UPDATE state SET updated_at = ? ${where}`, [o.ts, k]);
      } else if (o.kind === "delete") {
        await write(o.r, `DELETE FROM state ${where}`, [k]);
      } else if (o.kind === "maintain") {
        await clients[o.e % edgeCount]!.maintain(); // fold + drop acknowledged outbox rows
      } else if (o.kind === "truncate-log") {
        // The server forgets its whole change log (as GC does, after folding its own changes
        // into their stamps, but keeping tombstones): edges must re-bootstrap.
        await foldNow(server.ctx);
        await server.exec("UPDATE sync_clock SET gc_seq = (SELECT coalesce(max(seq), 0) FROM sync_changes)");
        // All but the newest row, which holds the numbering (sync/log-seq.ts).
        await server.exec("DELETE FROM sync_changes WHERE seq < (SELECT max(seq) FROM sync_changes)");
      } else if (o.kind === "clock") {
        await replicas[o.r % replicas.length]!.ctx.clock.setWallOffset(o.offsetMin * 60_000);
      } else {
        const e = o.e % edgeCount;
        net.plan = [...o.faults];
        crashPull[e] = o.crashPull;
        crashServer = o.crashServer;
        await clients[e]!.syncNow().catch(() => {}); // failures are part of the game
        net.plan = [];
        crashPull[e] = false;
        crashServer = false;
      }
    }
    // The network heals and NTP fixes every clock (20 minutes later than the worst skew).
    await net.deliverHeld();
    for (const r of replicas) await r.ctx.clock.setWallOffset(20 * 60_000);
    for (let round = 0; round < 2; round++) for (const c of clients) await c.syncNow();

    const expected = model.expected();
    for (const r of replicas)
      expect({ replica: r.name, rows: await readState(r) }).toEqual({ replica: r.name, rows: expected });
    for (const c of clients) expect((await c.status()).pendingOutbox).toBe(0);
    const quarantined = await server.database.client.execute("SELECT COUNT(*) AS n FROM sync_quarantine");
    expect(Number(quarantined.rows[0]!.n)).toBe(0);
  } finally {
    for (const r of replicas) r.close();
    dir.remove();
  }
}

describe("sync convergence (property)", () => {
  it("every replica ends equal to the reference model, whatever the network and the clocks did", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 3, max: 5 }),
        fc.array(op, { minLength: 5, maxLength: 120, size: "max" }),
        scenario,
      ),
      { numRuns: 80 },
    );
  }, 120_000);
});
