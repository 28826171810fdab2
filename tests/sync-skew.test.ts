import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSyncClient } from "../sync/client.ts";
import { ClockSkewError, MAX_DRIFT_MS } from "../sync/clock.ts";
import { createSyncHub, type SyncHub } from "../sync/hub.ts";
import { hexMs, hlcToHex } from "../sync/stamp.ts";
import { SyncTransportError } from "../sync/transport.ts";
import {
  FaultyNetwork,
  hubApp,
  openReplica,
  PUT_STATE,
  type Replica,
  readState,
  type TempDir,
  tempDir,
} from "./support/sync-harness.ts";

const HOUR = 3600_000;
const clockMs = async (r: Replica) => hexMs(hlcToHex(await r.ctx.clock.current()));

describe("clock skew", () => {
  let dir: TempDir;
  let server: Replica;
  let edge: Replica;
  let hub: SyncHub;
  let net: FaultyNetwork;
  beforeEach(async () => {
    dir = tempDir();
    server = await openReplica(dir.path, "server", "server");
    edge = await openReplica(dir.path, "edge", "edge");
    hub = createSyncHub(server.ctx);
    net = new FaultyNetwork(hubApp(hub));
  });
  afterEach(() => {
    server.close();
    edge.close();
    dir.remove();
  });
  const client = () =>
    createSyncClient({ ctx: edge.ctx, serverUrl: "http://hub.test", serverKey: "k", fetch: net.fetch });

  it("refuses an edge an hour ahead with a clear error, and the server's clock is not poisoned", async () => {
    await edge.ctx.clock.setWallOffset(HOUR);
    await edge.exec(PUT_STATE, ["k", '"from the future"', 1]);
    const sync = client();
    const err = await sync.syncNow().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SyncTransportError);
    expect(err).toMatchObject({ status: 409, code: "CLOCK_SKEW" });
    expect((err as Error).message).toMatch(/clock is 36\d\d s ahead.*Fix the clock/);

    // Nothing applied, nothing adopted: the server's HLC is still at its own wall clock...
    expect(await readState(server)).toEqual([]);
    expect(await clockMs(server)).toBeLessThan(Date.now() + 60_000);
    // ...so its next local write is stamped now, not an hour ahead.
    await server.exec(PUT_STATE, ["s", '"now"', 1]);
    expect(await clockMs(server)).toBeLessThan(Date.now() + 60_000);

    // Counted and visible; the edge keeps its change and reports the refusal.
    const [node] = await hub.listNodes();
    expect(node).toMatchObject({ site: "site-edge", skewRejections: 1, ackedSeq: 0 });
    expect(node!.lastError).toMatch(/CLOCK_SKEW|ahead/);
    expect(await sync.status()).toMatchObject({
      pendingOutbox: 1,
      online: true,
      lastError: { code: "CLOCK_SKEW" },
    });

    // Once the server's time has caught up with the stamp, the same change goes through.
    await server.ctx.clock.setWallOffset(HOUR);
    await sync.syncNow();
    expect((await readState(server)).map((r) => r.key)).toEqual(["k", "s"]);
  });

  it("an edge an hour behind refuses the server's changes instead of adopting them", async () => {
    await server.exec(PUT_STATE, ["k", '"v"', 1]);
    await edge.ctx.clock.setWallOffset(-HOUR);
    const before = await clockMs(edge);
    await expect(client().syncNow()).rejects.toThrow(ClockSkewError);
    expect(await clockMs(edge)).toBe(before);
    expect(await readState(edge)).toEqual([]);
  });

  it("stays monotonic when the wall clock jumps back, and advances past what it receives", async () => {
    const clock = edge.ctx.clock;
    const first = await clock.now();
    await clock.setWallOffset(-10 * 60_000);
    const second = await clock.now();
    expect(second).toBeGreaterThan(first);
    await clock.setWallOffset(0);
    const wall = await clock.wallMs();
    const remote = hlcToHex((BigInt(wall + MAX_DRIFT_MS - 1000) << 16n) | 7n);
    const received = await clock.receive(remote, "test");
    expect(received).toBeGreaterThan(BigInt(`0x${remote}`));
    expect(await clock.now()).toBeGreaterThan(received);
    const tooFar = hlcToHex(BigInt(wall + MAX_DRIFT_MS + 5000) << 16n);
    const rejected = clock.rejected;
    await expect(clock.receive(tooFar, "test")).rejects.toMatchObject({ code: "CLOCK_SKEW", status: 409 });
    expect(clock.rejected).toBe(rejected + 1);
  });
});
