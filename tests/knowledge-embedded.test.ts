import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLLM } from "../runtime/llm/create.ts";
import { CORPUS, type KnowledgeDb, knowledgeDb } from "./support/knowledge-db.ts";

/** The REAL embedded model (stories260K, 64-dim embeddings) end to end: ingest, then search. */
const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const TEST_MODEL = process.env.SUTAZAI_TEST_MODEL ?? `${repoRoot}../shared/models/stories260K.gguf`;

let kb: KnowledgeDb;
beforeAll(async () => {
  if (!existsSync(TEST_MODEL))
    throw new Error(
      `The embedded knowledge test needs ${TEST_MODEL} (see ../shared/models/README.md) or SUTAZAI_TEST_MODEL.`,
    );
  kb = await knowledgeDb(createLLM({ llmProvider: "embedded", llmModel: TEST_MODEL, llmThreads: 1 }));
});
afterAll(async () => {
  await kb?.ctx.llm.close();
  kb?.dispose();
});

describe("knowledge with the embedded model", () => {
  it("probes the dimension, stores real embeddings and finds a chunk by its own text", async () => {
    const created = await kb.run({
      action: "createCollection",
      name: "real",
      chunkTokens: 40,
      overlapTokens: 8,
    });
    expect(created.collection.dimension).toBe(64);
    for (const doc of CORPUS) await kb.run({ action: "ingest", collection: "real", ...doc });
    const rs = await kb.database.client.execute("SELECT count(*) AS n FROM knowledge_chunks");
    expect(Number(rs.rows[0]!.n)).toBeGreaterThan(3);
    const query =
      "To reset Pump X, hold the red button for five seconds until the status light blinks green.";
    const { hits } = await kb.run({ action: "search", collection: "real", query, mode: "vector", k: 3 });
    expect(hits[0].documentKey).toBe("pump-x.md");
    expect(hits[0].similarity).toBeGreaterThan(0.9);
  });
});
