import { afterEach, beforeEach } from "vitest";
import { createSyncHub, type SyncHub } from "../../sync/hub.ts";
import { openReplica, type Replica, type TempDir, tempDir } from "./sync-harness.ts";

// vitest fixtures over sync-harness.ts (kept apart: the benchmarks import the harness).

/**
 * A server replica, one edge ("site-<edgeName>") and the server's hub, fresh for every test
 * of the calling describe block (registered with beforeEach/afterEach). Read the fields inside tests.
 */
export function serverAndEdge(edgeName = "edge"): {
  dir: TempDir;
  server: Replica;
  edge: Replica;
  hub: SyncHub;
} {
  const pair = {} as { dir: TempDir; server: Replica; edge: Replica; hub: SyncHub };
  beforeEach(async () => {
    pair.dir = tempDir();
    pair.server = await openReplica(pair.dir.path, "server", "server");
    pair.edge = await openReplica(pair.dir.path, edgeName, "edge");
    pair.hub = createSyncHub(pair.server.ctx);
  });
  afterEach(() => {
    pair.edge.close();
    pair.server.close();
    pair.dir.remove();
  });
  return pair;
}
