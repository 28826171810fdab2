import { afterEach, beforeEach } from "vitest";
import { createSyncClient, type SyncClient } from "../../sync/client.ts";
import { createSyncHub, type SyncHub } from "../../sync/hub.ts";
import { FaultyNetwork, hubApp, openReplica, type Replica, type TempDir, tempDir } from "./sync-harness.ts";

// vitest fixtures over sync-harness.ts (kept apart: the benchmarks import the harness).

export interface SyncRig {
  dir: TempDir;
  server: Replica;
  hub: SyncHub;
  /** An edge ("site-<name>") with a client that reaches the hub's routes in-process. */
  edge(
    name: string,
    opts?: { pushBatchSize?: number; pullLimit?: number },
  ): Promise<{ replica: Replica; client: SyncClient }>;
}

/**
 * A server replica and its hub, fresh for every test of the calling describe block
 * (registered with beforeEach/afterEach), and edges made on demand; all closed after each
 * test. Read the fields inside tests.
 */
export function syncRig(): SyncRig {
  const replicas: Replica[] = [];
  const clients: SyncClient[] = [];
  const rig = {
    async edge(name, opts = {}) {
      const replica = await openReplica(rig.dir.path, name, "edge");
      replicas.push(replica);
      const client = createSyncClient({
        ctx: replica.ctx,
        serverUrl: "http://hub.test",
        serverKey: "k",
        fetch: new FaultyNetwork(hubApp(rig.hub)).fetch,
        ...opts,
      });
      clients.push(client);
      return { replica, client };
    },
  } as SyncRig;
  beforeEach(async () => {
    rig.dir = tempDir();
    rig.server = await openReplica(rig.dir.path, "server", "server");
    rig.hub = createSyncHub(rig.server.ctx);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop()));
    for (const r of replicas.splice(0)) r.close();
    rig.server.close();
    rig.dir.remove();
  });
  return rig;
}

/** syncRig() with one edge replica ("site-<edgeName>") opened for every test. */
export function serverAndEdge(edgeName = "edge"): { server: Replica; hub: SyncHub; edge: Replica } {
  const rig = syncRig();
  const pair = {
    get server() {
      return rig.server;
    },
    get hub() {
      return rig.hub;
    },
    edge: undefined as unknown as Replica,
  };
  beforeEach(async () => {
    pair.edge = (await rig.edge(edgeName)).replica;
  });
  return pair;
}
