import { afterAll, describe, expect, it } from "vitest";
import { startFakeOllama } from "./support/fake-ollama.ts";
import { freePort } from "./support/free-port.ts";
import {
  killAllSpawned,
  type NodeProcess,
  removeTempDirs,
  runCli,
  startNodeProcess,
  tempDataDir,
} from "./support/spawn-node.ts";

/** Real processes: a server and two edges on their own data dirs, talking HTTP on 127.0.0.1. */
afterAll(async () => {
  await killAllSpawned();
  removeTempDirs();
});

const json = { "content-type": "application/json" };

async function put(node: NodeProcess, key: string, value: unknown): Promise<void> {
  const res = await node.request(`/v1/state/plant/${key}`, {
    method: "PUT",
    headers: json,
    body: JSON.stringify(value),
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

async function allState(node: NodeProcess): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  let after = "";
  for (;;) {
    const res = await node.request(`/v1/state/plant?limit=1000${after ? `&after=${after}` : ""}`);
    const page = (await res.json()) as {
      entries: Array<{ key: string; value: unknown }>;
      next: string | null;
    };
    for (const e of page.entries) out[e.key] = e.value;
    if (!page.next) return out;
    after = page.next;
  }
}

async function syncNow(node: NodeProcess): Promise<{ pushed: number; pulled: number }> {
  const res = await node.request("/v1/sync/now", { method: "POST" });
  const body = (await res.json()) as { pushed: number; pulled: number };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body;
}

async function joinedEdge(serverUrl: string, nodeKey: string, dataDir?: string): Promise<NodeProcess> {
  return startNodeProcess("edge", {
    dataDir,
    env: { SUTAZAI_SERVER_URL: serverUrl, SUTAZAI_SERVER_KEY: nodeKey },
  });
}

async function nodeKeyFor(serverDir: string): Promise<string> {
  const run = await runCli(["keys", "create", "--name", "edges", "--role", "node", "--data-dir", serverDir]);
  expect(run.code, run.stderr).toBe(0);
  return run.stdout.trim().split("\n").at(-1)!;
}

describe("edges offline, then the server comes back", () => {
  it("writes made on two edges while the server is down converge on all three", async () => {
    const serverDir = tempDataDir();
    const nodeKey = await nodeKeyFor(serverDir);
    const port = await freePort();
    const serverUrl = `http://127.0.0.1:${port}`;
    const a = await joinedEdge(serverUrl, nodeKey);
    const b = await joinedEdge(serverUrl, nodeKey);

    for (let i = 0; i < 20; i++) await put(a, `a-${i}`, { from: "a", i });
    for (let i = 0; i < 20; i++) await put(b, `b-${i}`, { from: "b", i });
    await put(a, "shared", { by: "a" });
    await new Promise((r) => setTimeout(r, 20));
    await put(b, "shared", { by: "b" }); // later write wins
    await put(a, "gone", { soon: "deleted" });
    expect((await a.request("/v1/state/plant/gone", { method: "DELETE" })).status).toBe(204);

    // offline: the edges keep serving and say so, over HTTP and in the CLI
    const status = (await (await a.request("/v1/sync/status")).json()) as { pendingOutbox: number };
    expect(status.pendingOutbox).toBeGreaterThan(0);
    expect((await a.request("/v1/sync/now", { method: "POST" })).status).toBeGreaterThanOrEqual(400);
    const cliOf = (node: NodeProcess) => ["--url", node.url, "--key", node.adminKey];
    const [offline, offlineNow] = await Promise.all([
      runCli(["sync", "status", ...cliOf(a)]),
      runCli(["sync", "now", ...cliOf(a)]),
    ]);
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stdout).toMatch(/^online: +no \(offline/m);
    expect(offline.stdout).toMatch(new RegExp(`^pending outbox: +${status.pendingOutbox} change`, "m"));
    expect(offline.stdout).toMatch(/^last error: +SYNC_SERVER_UNREACHABLE: Cannot reach the sync server/m);
    expect(offlineNow.code).toBe(1);
    expect(offlineNow.stderr).toContain("SYNC_SERVER_UNREACHABLE");

    const ollama = await startFakeOllama({ models: [{ name: "embed-small", embeddingDim: 16 }] });
    const server = await startNodeProcess("server", {
      dataDir: serverDir,
      port,
      args: ["--queue", "local", "--llm-provider", "ollama"],
      env: { OLLAMA_HOST: ollama.url },
    });
    // A distributed knowledge collection, for the edges to search offline.
    const created = await server.request("/v1/knowledge/collections", {
      method: "POST",
      headers: json,
      body: JSON.stringify({ name: "manuals", embeddingModel: "embed-small", distributed: true }),
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const ingested = await server.request("/v1/knowledge/documents", {
      method: "POST",
      headers: json,
      body: JSON.stringify({
        collection: "manuals",
        key: "pump.md",
        content: "Replace the impeller gasket yearly.",
      }),
    });
    expect(ingested.status, await ingested.clone().text()).toBe(200);
    await syncNow(a);
    await syncNow(b);
    await syncNow(a);

    const [sa, sb, ss] = await Promise.all([allState(a), allState(b), allState(server)]);
    expect(Object.keys(ss)).toHaveLength(41);
    expect(ss.shared).toEqual({ by: "b" });
    expect(ss.gone).toBeUndefined();
    expect(sa).toEqual(ss);
    expect(sb).toEqual(ss);

    const nodes = (await (await server.request("/v1/nodes")).json()) as { nodes: Array<{ site: string }> };
    expect(nodes.nodes.length).toBe(2);
    const [online, cliNodes, cliNodesJson] = await Promise.all([
      runCli(["sync", "status", ...cliOf(a)]),
      runCli(["sync", "nodes", ...cliOf(server)]),
      runCli(["sync", "nodes", "--json", ...cliOf(server)]),
    ]);
    expect(online.stdout).toMatch(/^online: +yes$/m);
    expect(online.stdout).toMatch(/^pending outbox: +0 change/m);
    expect(online.stdout).toMatch(/^last error: +none$/m);
    for (const n of nodes.nodes) expect(cliNodes.stdout).toContain(n.site);
    expect(JSON.parse(cliNodesJson.stdout)).toEqual({ nodes: expect.any(Array) });

    // Each edge's audit chain reached the server whole: the same verdict and head there.
    const { siteId } = (await (await a.request("/v1/sync/status")).json()) as { siteId: string };
    const own = await (await a.request("/v1/audit/verify")).json();
    expect(own).toMatchObject({ ok: true });
    expect(await (await server.request(`/v1/audit/verify?node=${siteId}`)).json()).toEqual(own);
    const received = (await (await server.request(`/v1/audit?node=${siteId}&limit=1000`)).json()) as {
      entries: unknown[];
    };
    expect(received.entries.length).toBe((own as { count: number }).count);

    // The distributed collection is indexed on the edge in the background after the pull:
    // keyword search needs no model, so this works with the server gone.
    await server.stop();
    let hits: Array<{ documentKey: string }> = [];
    // Up to ~10 s: an answer without hits (index not built yet) waits like a refusal does.
    for (let i = 0; i < 100 && hits.length === 0; i++) {
      const found = await a.request("/v1/knowledge/search?collection=manuals&q=impeller&mode=keyword");
      if (found.status === 200) hits = ((await found.json()) as { hits: typeof hits }).hits;
      if (hits.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(hits[0]).toMatchObject({ documentKey: "pump.md" });
    await Promise.all([a.stop(), b.stop(), ollama.close()]);
  }, 120_000);

  it("an edge killed with SIGKILL in the middle of a push loses and duplicates nothing", async () => {
    const serverDir = tempDataDir();
    const nodeKey = await nodeKeyFor(serverDir);
    const port = await freePort();
    const serverUrl = `http://127.0.0.1:${port}`;
    const server = await startNodeProcess("server", { dataDir: serverDir, port, args: ["--queue", "local"] });
    const edgeDir = tempDataDir();
    let edge = await joinedEdge(serverUrl, nodeKey, edgeDir);
    const N = 1500;
    // many writes at once, so a push takes several batches
    for (let i = 0; i < N; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => put(edge, `r-${i + j}`, { i: i + j })));
    }
    const pushing = edge.request("/v1/sync/now", { method: "POST" }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 40));
    edge.child.kill("SIGKILL");
    await pushing;
    await edge.exited;

    edge = await joinedEdge(serverUrl, nodeKey, edgeDir);
    const round = await edge.request("/v1/sync/now", { method: "POST" });
    expect(
      round.status,
      `${await round.text()}\nserver: ${server.stderr().slice(-3000)}\nedge: ${edge.stderr().slice(-3000)}`,
    ).toBe(200);
    const ss = await allState(server);
    expect(Object.keys(ss)).toHaveLength(N);
    for (let i = 0; i < N; i++) expect(ss[`r-${i}`]).toEqual({ i });
    expect(await allState(edge)).toEqual(ss);
    await Promise.all([edge.stop(), server.stop()]);
  }, 120_000);
});
