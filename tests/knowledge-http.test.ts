import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOllamaLLM } from "../runtime/llm/ollama.ts";
import { type FakeOllama, startFakeOllama } from "./support/fake-ollama.ts";
import { CORPUS } from "./support/knowledge-db.ts";
import { bearer, mintRoleKeys } from "./support/security-helpers.ts";
import { jsonPost, startTestNode, type TestNode, waitForInvocation } from "./support/test-node.ts";

/** The REST face end to end on a node, with the fake Ollama for embeddings and chat. */
let fake: FakeOllama;
let node: TestNode;
beforeAll(async () => {
  fake = await startFakeOllama({
    models: [
      "llama3.2:1b",
      { name: "embed-small", embeddingDim: 32 },
      { name: "embed-big", embeddingDim: 48 },
    ],
  });
  node = await startTestNode({ llm: createOllamaLLM({ host: fake.url, model: "llama3.2:1b" }) });
  const res = await node.request(
    "/v1/knowledge/collections",
    jsonPost({ name: "docs", embeddingModel: "embed-small", chunkTokens: 40, overlapTokens: 8 }),
  );
  expect(res.status, await res.clone().text()).toBe(201);
  for (const doc of CORPUS) {
    const r = await node.request("/v1/knowledge/documents", jsonPost({ collection: "docs", ...doc }));
    expect(r.status, await r.clone().text()).toBe(200);
  }
});
afterAll(async () => {
  await node.dispose();
  await fake.close();
});

describe("knowledge over HTTP", () => {
  it("creates collections with the probed dimension and lists them", async () => {
    const body = (await (await node.request("/v1/knowledge/collections")).json()) as {
      collections: Array<Record<string, unknown>>;
    };
    expect(body.collections).toEqual([
      expect.objectContaining({
        name: "docs",
        embeddingModel: "embed-small",
        dimension: 32,
        documents: 3,
        indexStatus: "ready",
      }),
    ]);
  });

  it("searches with a filter and returns hits with document, heading path, score and snippet", async () => {
    const filter = encodeURIComponent(JSON.stringify({ product: "pump-x" }));
    const res = await node.request(
      `/v1/knowledge/search?collection=docs&q=impeller%20gasket&mode=hybrid&k=3&filter=${filter}`,
    );
    expect(res.status).toBe(200);
    const { hits } = (await res.json()) as { hits: Array<Record<string, any>> };
    expect(hits[0]).toMatchObject({
      documentKey: "pump-x.md",
      headingPath: ["Pump X manual", "Maintenance"],
      score: expect.any(Number),
    });
    expect(hits[0]!.snippet).toContain("<mark>impeller</mark>");
    expect(hits.every((h) => h.metadata.product === "pump-x")).toBe(true);
  });

  it("bad input is a 4xx problem, never a 500", async () => {
    expect((await node.request("/v1/knowledge/search?collection=docs&q=x&filter=%7Bnope")).status).toBe(400);
    expect((await node.request("/v1/knowledge/search?collection=nope&q=x")).status).toBe(404);
    expect((await node.request("/v1/knowledge/documents", jsonPost({ collection: "docs" }))).status).toBe(
      422,
    );
    const mismatch = await node.request("/v1/knowledge/search?collection=docs&q=x&model=embed-big");
    expect(mismatch.status).toBe(409);
    expect(((await mismatch.json()) as { code: string }).code).toBe("EMBEDDING_MODEL_MISMATCH");
  });

  it("a big ingest runs async with progress (chunks embedded / total) on /v1/invocations/:id", async () => {
    const content = Array.from(
      { length: 120 },
      (_, i) => `Paragraph ${i} explains step ${i} of the overhaul.`,
    ).join("\n\n");
    const res = await node.request(
      "/v1/knowledge/documents?mode=async",
      jsonPost({ collection: "docs", key: "overhaul.txt", content }),
    );
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    expect(res.headers.get("location")).toBe(`/v1/invocations/${id}`);
    const done = (await waitForInvocation(node, id)) as {
      status: string;
      progress: Record<string, number>;
      output: Record<string, unknown>;
    };
    expect(done.status).toBe("succeeded");
    expect(done.progress).toMatchObject({
      phase: "done",
      embedded: done.output.chunks,
      total: done.output.chunks,
    });
    expect(done.output).toMatchObject({ status: "created", key: "overhaul.txt" });
  });

  it("ask streams tokens over SSE and ends with the answer and its citations", async () => {
    fake.script("llama3.2:1b", { content: "Hold the red button for five seconds [1]." });
    // fake embeddings are random per text: a question identical to a chunk is the one sure match
    const question =
      "To reset Pump X, hold the red button for five seconds until the status light blinks green.";
    const res = await node.request(
      "/v1/functions/knowledge/invoke",
      jsonPost(
        { action: "ask", collection: "docs", question, minSimilarity: -1, k: 3 },
        { accept: "text/event-stream" },
      ),
    );
    const text = await res.text();
    expect(text).toContain("event: token");
    const result = JSON.parse(/event: result\ndata: (.*)/.exec(text)![1]!) as { output: Record<string, any> };
    expect(result.output.grounded).toBe(true);
    expect(result.output.citations[0]).toMatchObject({ n: 1, documentKey: expect.any(String) });
  });

  it("reindex switches the model; a different dimension then works end to end", async () => {
    const res = await node.request(
      "/v1/functions/knowledge/invoke",
      jsonPost({ action: "reindex", collection: "docs", embeddingModel: "embed-big" }),
    );
    expect(res.status, await res.clone().text()).toBe(200);
    expect(((await res.json()) as { output: Record<string, unknown> }).output).toMatchObject({
      dimension: 48,
      generation: 2,
    });
    expect((await node.request("/v1/knowledge/search?collection=docs&q=gasket&model=embed-big")).status).toBe(
      200,
    );
    expect(
      (await node.request("/v1/knowledge/search?collection=docs&q=gasket&model=embed-small")).status,
    ).toBe(409);
  });

  it("auditors cannot read the knowledge base; developers can search but devices need a grant", async () => {
    const keys = await mintRoleKeys(node);
    expect(
      (
        await node.request("/v1/knowledge/search?collection=docs&q=x", {
          headers: bearer(keys.auditor.secret),
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await node.request("/v1/knowledge/search?collection=docs&q=gasket", {
          headers: bearer(keys.developer.secret),
        })
      ).status,
    ).toBe(200);
    const denied = await node.request("/v1/knowledge/collections/docs", {
      method: "DELETE",
      headers: bearer(keys.device.secret),
    });
    expect(denied.status).toBe(403);
  });
});

describe("multipart upload", () => {
  it("ingests an uploaded file: key from its name, format from its extension, metadata as JSON", async () => {
    const form = new FormData();
    form.set("collection", "docs");
    form.set("metadata", JSON.stringify({ product: "valve-v" }));
    form.set(
      "file",
      new File(["# Valve V\n\n## Bleeding\n\nOpen the bleed screw half a turn."], "valve-v.md"),
    );
    const res = await node.request("/v1/knowledge/documents", { method: "POST", body: form });
    expect(res.status, await res.clone().text()).toBe(200);
    const search = await node.request(
      "/v1/knowledge/search?collection=docs&q=bleed%20screw&mode=keyword&k=3",
    );
    const { hits } = (await search.json()) as { hits: Array<Record<string, any>> };
    expect(JSON.stringify(hits[0])).toContain("valve-v.md");
    expect(JSON.stringify(hits[0])).toContain("Bleeding");
  });

  it("refuses multipart anywhere else", async () => {
    const form = new FormData();
    form.set("message", "hi");
    const res = await node.request("/v1/functions/echo/invoke", { method: "POST", body: form });
    expect(res.status).toBe(415);
  });
});
