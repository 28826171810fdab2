import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unconfiguredLLM } from "../runtime/llm/unconfigured.ts";
import { CORPUS, type KnowledgeDb, knowledgeDb } from "./support/knowledge-db.ts";
import { withBagOfWords } from "./support/knowledge-llm.ts";

let kb: KnowledgeDb;
const embedCalls: string[][] = [];
beforeAll(async () => {
  kb = await knowledgeDb(withBagOfWords(unconfiguredLLM(), { "big-model": 128 }, embedCalls));
  await kb.run({
    action: "createCollection",
    name: "manuals",
    embeddingModel: "bow",
    chunkTokens: 40,
    overlapTokens: 8,
  });
  for (const doc of CORPUS) await kb.run({ action: "ingest", collection: "manuals", ...doc });
});
afterAll(() => kb.dispose());

const search = (query: string, extra: Record<string, unknown> = {}) =>
  kb
    .run<{ hits: Array<Record<string, any>> }>({ action: "search", collection: "manuals", query, ...extra })
    .then((r) => r.hits);

describe("knowledge search", () => {
  it("keyword search finds the chunk with the words, with a highlighted snippet and heading path", async () => {
    const [top] = await search("impeller gasket", { mode: "keyword" });
    expect(top).toMatchObject({ documentKey: "pump-x.md", headingPath: ["Pump X manual", "Maintenance"] });
    expect(top!.snippet).toContain("<mark>impeller</mark> <mark>gasket</mark>");
    expect(top!.similarity).toBeNull();
  });

  it("vector search ranks the semantically closest chunk first", async () => {
    const [top] = await search("how to reset pump red button", { mode: "vector", k: 3 });
    expect(top).toMatchObject({ documentKey: "pump-x.md", headingPath: ["Pump X manual", "Reset"] });
    expect(top!.similarity).toBeGreaterThan(0.3);
  });

  it("hybrid fuses both lists (RRF) and offsets point into the document text", async () => {
    const hits = await search("close valve vent pressure", { k: 3 });
    expect(hits[0]).toMatchObject({
      documentKey: "valve-v2.html",
      title: "Valve V2",
      headingPath: ["Valve V2", "Safety"],
    });
    expect(hits[0]!.text).toContain("vent the pressure");
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
    // HTML text is "# Valve V2\n\n...": the chunk's offsets slice exactly its text
    expect(hits[0]!.end - hits[0]!.start).toBe(hits[0]!.text.length);
  });

  it("filters on metadata equality (strings and booleans), in every mode", async () => {
    for (const mode of ["hybrid", "vector", "keyword"]) {
      const hits = await search("pressure valve pump coffee", { mode, filter: { product: "pump-x" } });
      expect(hits.length).toBeGreaterThan(0);
      expect(hits.every((h) => h.metadata.product === "pump-x")).toBe(true);
    }
    const internal = await search("coffee", { filter: { internal: true } });
    expect(internal.map((h) => h.documentKey)).toEqual(["cafeteria.txt"]);
    expect(await search("coffee", { filter: { internal: 1 } })).toEqual([]); // true is not 1
  });

  it("re-ingesting unchanged content is skipped (no embedding); changed content replaces the chunks", async () => {
    const doc = CORPUS[2]!;
    const before = embedCalls.length;
    const same = await kb.run({ action: "ingest", collection: "manuals", ...doc });
    expect(same).toMatchObject({ status: "unchanged", version: 1 });
    expect(embedCalls.length).toBe(before);
    const changed = await kb.run({
      action: "ingest",
      collection: "manuals",
      ...doc,
      content: "The cafeteria now serves tacos on Tuesdays.",
    });
    expect(changed).toMatchObject({ status: "replaced", version: 2, documentId: same.documentId });
    expect(await search("pasta Fridays", { mode: "keyword", filter: { internal: true } })).toEqual([]);
    expect((await search("tacos", { mode: "keyword" }))[0]!.documentKey).toBe("cafeteria.txt");
  });

  it("delete removes the document's chunks from both indexes", async () => {
    await kb.run({
      action: "ingest",
      collection: "manuals",
      key: "tmp",
      content: "Zebras graze quietly near the fence.",
    });
    expect((await search("zebras", { mode: "keyword" })).length).toBe(1);
    await kb.run({ action: "deleteDocument", collection: "manuals", key: "tmp" });
    expect(await search("zebras", { mode: "keyword" })).toEqual([]);
    expect(
      (await search("zebras graze fence", { mode: "vector", k: 20 })).some((h) => h.documentKey === "tmp"),
    ).toBe(false);
    const counts = await kb.database.client.execute(
      "SELECT (SELECT count(*) FROM knowledge_chunks) AS chunks, (SELECT count(*) FROM knowledge_documents) AS docs",
    );
    expect(counts.rows[0]).toMatchObject({ docs: 3 });
  });

  it("a different embedding model or dimension is a clear error", async () => {
    await expect(search("pump", { embeddingModel: "other-model" })).rejects.toMatchObject({
      status: 409,
      code: "EMBEDDING_MODEL_MISMATCH",
    });
    // the collection's model now answers with 128 dims (e.g. a re-pulled tag): refuse, don't mix
    await kb
      .run({ action: "createCollection", name: "shifty", embeddingModel: "big-model", dimension: 64 })
      .catch((e) => e);
    await expect(
      kb.run({ action: "ingest", collection: "shifty", content: "hello there" }),
    ).rejects.toMatchObject({ code: "EMBEDDING_DIMENSION_MISMATCH" });
  });

  it("readers never see half a document while it is replaced", async () => {
    const version = (v: number) =>
      Array.from({ length: 30 }, (_, i) => `Paragraph ${i} of revision r${v} about turbines.`).join("\n\n");
    await kb.run({
      action: "createCollection",
      name: "atomic",
      embeddingModel: "bow",
      chunkTokens: 16,
      overlapTokens: 0,
    });
    await kb.run({ action: "ingest", collection: "atomic", key: "doc", content: version(0) });
    let writing = true;
    const writer = (async () => {
      for (let v = 1; v <= 15; v++)
        await kb.run({ action: "ingest", collection: "atomic", key: "doc", content: version(v) });
      writing = false;
    })();
    let reads = 0;
    while (writing) {
      const { hits } = await kb.run<{ hits: Array<{ text: string }> }>({
        action: "search",
        collection: "atomic",
        query: "turbines paragraph",
        mode: "keyword",
        k: 100,
      });
      const revisions = new Set(hits.map((h) => /r(\d+)/.exec(h.text)![1]));
      expect(hits.length).toBe(30);
      expect(revisions.size).toBe(1);
      reads++;
    }
    await writer;
    expect(reads).toBeGreaterThan(0);
  });
});
