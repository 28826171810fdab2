import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fillMissingVectors } from "../functions/knowledge/distribute.ts";
import { knowledge } from "../functions/knowledge/index.ts";
import { createReplicaIndexer, indexReplicas } from "../functions/knowledge/replica.ts";
import type { FunctionContext } from "../runtime/function.ts";
import { unconfiguredLLM } from "../runtime/llm/unconfigured.ts";
import { createSyncClient, type SyncClient } from "../sync/client.ts";
import { foldNow } from "../sync/fold.ts";
import { createSyncHub } from "../sync/hub.ts";
import { installSync } from "../sync/install.ts";
import { SYNCED_TABLES } from "../sync/tables.ts";
import { makeContext } from "./support/function-context.ts";
import { CORPUS } from "./support/knowledge-db.ts";
import { withBagOfWords } from "./support/knowledge-llm.ts";
import {
  FaultyNetwork,
  hubApp,
  openReplica,
  type Replica,
  type TempDir,
  tempDir,
} from "./support/sync-harness.ts";

/*
 * A collection marked `distributed` on the server reaches edges by sync — rows and vectors —
 * and the edge builds its own index from them: it searches offline without embedding a
 * single document. Collections not marked stay on the server.
 */
describe("sync: distributed knowledge collections", () => {
  let dir: TempDir;
  let server: Replica;
  let edge: Replica;
  let client: SyncClient;
  let net: FaultyNetwork;
  let serverCtx: FunctionContext;
  let edgeCtx: FunctionContext;
  const edgeEmbeds: string[][] = [];

  const run = <T = Record<string, any>>(ctx: FunctionContext, input: Record<string, unknown>) =>
    knowledge.handler(knowledge.input.parse(input), ctx) as Promise<T>;
  const hits = async (ctx: FunctionContext, query: string, extra: Record<string, unknown> = {}) =>
    (
      await run<{ hits: Array<Record<string, any>> }>(ctx, {
        action: "search",
        collection: "manuals",
        query,
        ...extra,
      })
    ).hits;
  const sync = async () => {
    await client.syncNow();
    return indexReplicas(edge.database.client);
  };

  beforeEach(async () => {
    dir = tempDir();
    server = await openReplica(dir.path, "server", "server");
    edge = await openReplica(dir.path, "edge", "edge");
    net = new FaultyNetwork(hubApp(createSyncHub(server.ctx)));
    client = createSyncClient({
      ctx: edge.ctx,
      serverUrl: "http://hub.test",
      serverKey: "k",
      fetch: net.fetch,
      pullLimit: 5, // documents span several pull pages
    });
    serverCtx = makeContext(server.database.db, {
      llm: withBagOfWords(unconfiguredLLM(), { bow2: 32 }),
      node: { id: "server", role: "server", online: true },
    });
    edgeCtx = makeContext(edge.database.db, {
      llm: withBagOfWords(unconfiguredLLM(), { bow2: 32 }, edgeEmbeds),
    });
    for (const [name, distributed] of [
      ["manuals", true],
      ["private-notes", false],
    ] as const) {
      await run(serverCtx, {
        action: "createCollection",
        name,
        embeddingModel: "bow",
        chunkTokens: 16,
        overlapTokens: 4,
        distributed,
      });
      for (const doc of CORPUS) await run(serverCtx, { action: "ingest", collection: name, ...doc });
    }
  });
  afterEach(async () => {
    await client.stop();
    edge.close();
    server.close();
    dir.remove();
  });

  it("replicates rows and vectors down; the edge indexes and searches them offline without embedding documents", async () => {
    const first = await sync();
    expect(first).toMatchObject({ collections: 1, documents: CORPUS.length, waiting: 0 });
    const listed = await run<{ collections: Array<Record<string, any>> }>(edgeCtx, {
      action: "listCollections",
    });
    expect(listed.collections.map((c) => [c.name, c.distributed, c.indexStatus])).toEqual([
      ["manuals", true, "ready"],
    ]);

    net.offline = true; // the edge answers from its own copy
    const serverHits = await hits(serverCtx, "close valve vent pressure", { k: 3 });
    const edgeHits = await hits(edgeCtx, "close valve vent pressure", { k: 3 });
    expect(edgeHits.map((h) => [h.chunkId, h.documentKey, h.headingPath])).toEqual(
      serverHits.map((h) => [h.chunkId, h.documentKey, h.headingPath]),
    );
    expect(edgeHits[0]!.similarity).toBeCloseTo(serverHits[0]!.similarity, 5); // the very same vectors
    for (const mode of ["keyword", "vector"]) {
      expect((await hits(edgeCtx, "impeller gasket", { mode }))[0]).toMatchObject({
        documentKey: "pump-x.md",
      });
    }
    // Only the query was embedded on the edge, never a document.
    expect(edgeEmbeds.flat()).toEqual(["close valve vent pressure", "impeller gasket"]);
    // The private collection never left the server.
    const count = await edge.database.client.execute(
      "SELECT (SELECT count(*) FROM knowledge_collections) AS c, (SELECT count(*) FROM knowledge_chunks) AS k",
    );
    const expected = await server.database.client.execute(
      "SELECT count(*) AS k FROM knowledge_chunks c JOIN knowledge_collections k ON k.id = c.collection_id WHERE k.distributed = 1",
    );
    expect(count.rows[0]).toMatchObject({ c: 1, k: expected.rows[0]!.k });
    // ... and was not sent only to be refused here.
    const refused = await edge.database.client.execute("SELECT count(*) AS n FROM sync_quarantine");
    expect(refused.rows[0]).toMatchObject({ n: 0 });
  });

  it("follows re-ingests, deletes, model changes and collection deletes on the server", async () => {
    await sync();
    await run(serverCtx, {
      action: "ingest",
      collection: "manuals",
      key: "pump-x.md",
      format: "markdown",
      content: "# Pump X manual\n\n## Reset\n\nTo reset Pump X, turn the blue dial twice.",
    });
    await run(serverCtx, { action: "deleteDocument", collection: "manuals", key: "cafeteria.txt" });
    expect(await sync()).toMatchObject({ documents: 1, waiting: 0 });
    expect(await edge.database.client.execute("SELECT count(*) AS n FROM knowledge_documents")).toMatchObject(
      {
        rows: [{ n: 2 }],
      },
    );
    const reset = await hits(edgeCtx, "reset pump", { mode: "keyword" });
    expect(reset.map((h) => h.text).join(" ")).toContain("blue dial");
    expect(reset.map((h) => h.text).join(" ")).not.toContain("red button"); // old version's entries gone
    expect(await hits(edgeCtx, "cafeteria coffee soup", { mode: "keyword" })).toEqual([]);

    // The server re-embeds with another model: the edge rebuilds its index from the new vectors.
    await run(serverCtx, { action: "reindex", collection: "manuals", embeddingModel: "bow2" });
    expect(await sync()).toMatchObject({ waiting: 0 });
    const index = await edge.database.client.execute(
      "SELECT embedding_model, dimension, generation FROM knowledge_indexes",
    );
    expect(index.rows[0]).toMatchObject({ embedding_model: "bow2", dimension: 32, generation: 2 });
    expect((await hits(edgeCtx, "close valve vent pressure", { mode: "vector" }))[0]).toMatchObject({
      documentKey: "valve-v2.html",
    });

    // Deleting the collection on the server removes it, its rows and its index tables here.
    await run(serverCtx, { action: "deleteCollection", collection: "manuals" });
    await sync();
    const left = await edge.database.client.execute(
      "SELECT (SELECT count(*) FROM knowledge_collections) AS c, (SELECT count(*) FROM knowledge_chunks) AS k, (SELECT count(*) FROM sqlite_master WHERE name LIKE 'kb_%') AS t",
    );
    expect(left.rows[0]).toMatchObject({ c: 0, k: 0, t: 0 });
    // ... and the server keeps only tombstones of it (which GC collects), no live metadata.
    await foldNow(server.ctx);
    const live = await server.database.client.execute(
      "SELECT count(*) AS n FROM sync_versions WHERE tbl LIKE 'knowledge_%' AND del IS NULL",
    );
    expect(live.rows[0]).toMatchObject({ n: 0 });
  });

  it("ships a reindex's vectors only at its swap, and the edge rebuilds even for the same model", async () => {
    await sync();
    const vectors = () =>
      server.database.client
        .execute("SELECT id, embedding FROM knowledge_chunks ORDER BY id")
        .then((rs) => rs.rows.map((r) => `${r.id}:${r.embedding}`));
    const before = await vectors();
    // A reindex that fails part-way changes nothing edges would receive.
    const failing = makeContext(server.database.db, {
      llm: { ...withBagOfWords(), embed: async () => Promise.reject(new Error("model crashed")) },
      node: serverCtx.node,
    });
    await expect(run(failing, { action: "reindex", collection: "manuals" })).rejects.toThrow(/model crashed/);
    expect(await vectors()).toEqual(before);

    // The same model re-run (e.g. updated weights): every vector may change, so the edge rebuilds.
    await run(serverCtx, { action: "reindex", collection: "manuals" });
    await sync();
    const index = await edge.database.client.execute("SELECT generation FROM knowledge_indexes");
    expect(index.rows[0]).toMatchObject({ generation: 2 });
    expect((await hits(edgeCtx, "impeller gasket", { mode: "vector" }))[0]).toMatchObject({
      documentKey: "pump-x.md",
    });
  });

  it("gives chunks ingested before vectors travelled their vectors at server start", async () => {
    // What an older version left: distributed chunks without vectors.
    await server.exec("UPDATE knowledge_chunks SET embedding = NULL");
    expect(await sync()).toMatchObject({ documents: 0, waiting: CORPUS.length });
    expect(await fillMissingVectors(server.database.client)).toBeGreaterThan(0);
    expect(await fillMissingVectors(server.database.client)).toBe(0);
    expect(await sync()).toMatchObject({ documents: CORPUS.length, waiting: 0 });
    // only the distributed collection's chunks carry vectors
    const bare = await server.database.client.execute(
      "SELECT count(*) AS n FROM knowledge_chunks k JOIN knowledge_collections c ON c.id = k.collection_id WHERE c.distributed = 0 AND k.embedding IS NOT NULL",
    );
    expect(bare.rows[0]).toMatchObject({ n: 0 });
  });

  it("keeps replicas read-only on the edge, and refuses to distribute from an edge", async () => {
    await sync();
    await expect(
      run(edgeCtx, { action: "ingest", collection: "manuals", key: "x", content: "local edit" }),
    ).rejects.toMatchObject({ status: 409, code: "COLLECTION_REPLICATED" });
    await expect(run(edgeCtx, { action: "deleteCollection", collection: "manuals" })).rejects.toMatchObject({
      code: "COLLECTION_REPLICATED",
    });
    await expect(
      run(edgeCtx, { action: "createCollection", name: "mine", embeddingModel: "bow", distributed: true }),
    ).rejects.toMatchObject({ status: 422 });
    // A local collection on the edge works as before and stays local.
    await run(edgeCtx, { action: "createCollection", name: "mine", embeddingModel: "bow" });
    await run(edgeCtx, {
      action: "ingest",
      collection: "mine",
      key: "n",
      content: "edge-only notes about valves",
    });
    await sync();
    const onServer = await server.database.client.execute("SELECT count(*) AS n FROM knowledge_collections");
    expect(onServer.rows[0]).toMatchObject({ n: 2 });
  });

  it("sets aside a distributed collection whose name a local one holds, and takes it once the clash is gone", async () => {
    await run(edgeCtx, { action: "createCollection", name: "manuals", embeddingModel: "bow" }); // local, same name
    const round = await client.syncNow();
    expect(round.quarantined).toBeGreaterThan(0); // reported, not silently dropped
    await run(edgeCtx, { action: "deleteCollection", collection: "manuals" });
    // The operator cleared the clash; the next start retries what a constraint refused.
    await installSync(edge.database, SYNCED_TABLES, { role: "edge", schemaVersion: 1 });
    expect(await indexReplicas(edge.database.client)).toMatchObject({ documents: CORPUS.length, waiting: 0 });
    expect((await hits(edgeCtx, "impeller gasket", { mode: "keyword" }))[0]).toMatchObject({
      documentKey: "pump-x.md",
    });
    const left = await edge.database.client.execute("SELECT count(*) AS n FROM sync_quarantine");
    expect(left.rows[0]).toMatchObject({ n: 0 });
  });

  it("indexes in the background, one pass at a time, and stops cleanly", async () => {
    await client.syncNow();
    const indexer = createReplicaIndexer(edge.database.client);
    indexer.kick();
    indexer.kick(); // coalesced into one more pass
    await indexer.idle();
    expect(indexer.last()).toMatchObject({ result: { collections: 1, waiting: 0 }, error: null });
    expect((await hits(edgeCtx, "impeller gasket", { mode: "keyword" }))[0]).toMatchObject({
      documentKey: "pump-x.md",
    });
    await indexer.close();
    indexer.kick(); // ignored once closed
    await indexer.idle();
  });

  it("indexes a document only once all its chunks have arrived", async () => {
    // Apply the server's changes one pull page (5 changes) at a time and index after each:
    // a document must never be searchable with only some of its chunks.
    const pages = createSyncClient({
      ctx: edge.ctx,
      serverUrl: "http://hub.test",
      serverKey: "k",
      fetch: net.fetch,
      pullLimit: 5,
    });
    const chunkCounts = new Map<string, number>();
    const docs = await server.database.client.execute(
      "SELECT d.id, d.chunk_count FROM knowledge_documents d JOIN knowledge_collections c ON c.id = d.collection_id WHERE c.distributed = 1",
    );
    for (const d of docs.rows) chunkCounts.set(String(d.id), Number(d.chunk_count));
    let sawWaiting = false;
    for (let i = 0; i < 50; i++) {
      net.plan.push("ok", "drop-request"); // one pull page, then the link drops (nothing to push)
      const before = (await edge.database.client.execute("SELECT count(*) AS n FROM knowledge_chunks"))
        .rows[0]!.n;
      await pages.syncNow().catch(() => {});
      const result = await indexReplicas(edge.database.client);
      if (result.waiting > 0) sawWaiting = true;
      const index = await edge.database.client.execute("SELECT vector_table FROM knowledge_indexes");
      if (index.rows.length) {
        const partial = await edge.database.client.execute(
          `SELECT c.document_id, count(*) AS n FROM ${String(index.rows[0]!.vector_table)} v JOIN knowledge_chunks c ON c.id = v.chunk_id GROUP BY c.document_id`,
        );
        for (const r of partial.rows) expect(Number(r.n)).toBe(chunkCounts.get(String(r.document_id)));
      }
      const after = (await edge.database.client.execute("SELECT count(*) AS n FROM knowledge_chunks"))
        .rows[0]!.n;
      if (after === before && i > 0) break;
    }
    await pages.stop();
    expect(sawWaiting).toBe(true);
    expect(await indexReplicas(edge.database.client)).toMatchObject({ waiting: 0 });
  });
});
