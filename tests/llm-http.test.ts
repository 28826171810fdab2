import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineFunction } from "../runtime/function.ts";
import { createOllamaLLM } from "../runtime/llm/ollama.ts";
import { type FakeOllama, startFakeOllama } from "./support/fake-ollama.ts";
import { jsonPost, startTestNode, type TestNode } from "./support/test-node.ts";

const MODEL = "llama3.2:1b";

/** A function that just asks the model; it knows nothing about streaming. */
const storyteller = defineFunction({
  name: "storyteller",
  description: "Continues a prompt",
  input: z.object({ prompt: z.string() }),
  output: z.object({ text: z.string() }),
  handler: async ({ prompt }, ctx) => ({ text: (await ctx.llm.generate(prompt)).text }),
});

let fake: FakeOllama;
let node: TestNode;
beforeAll(async () => {
  fake = await startFakeOllama({ models: [MODEL], pullable: ["qwen3:0.6b"] });
  node = await startTestNode({
    llm: createOllamaLLM({ host: fake.url, model: MODEL }),
    extraFunctions: [storyteller as never],
  });
});
afterAll(async () => {
  await node.dispose();
  await fake.close();
});

function parseSse(text: string): Array<{ event: string; data: unknown }> {
  return text
    .split("\n\n")
    .filter((block) => block.includes("data:"))
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
      const data = block
        .split("\n")
        .filter((l) => l.startsWith("data: "))
        .map((l) => l.slice(6))
        .join("\n");
      return { event, data: JSON.parse(data) };
    });
}

describe("LLM over HTTP", () => {
  it("Accept: text/event-stream streams tokens, then the result, and records the invocation", async () => {
    const res = await node.request(
      "/v1/functions/storyteller/invoke",
      jsonPost({ prompt: "Once upon a time" }, { accept: "text/event-stream" }),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const events = parseSse(await res.text());
    const tokens = events.filter((e) => e.event === "token").map((e) => e.data as string);
    const result = events.find((e) => e.event === "result")?.data as { id: string; output: { text: string } };
    expect(tokens.length).toBeGreaterThan(1);
    expect(tokens.join("")).toBe(result.output.text);
    const row = (await (await node.request(`/v1/invocations/${result.id}`)).json()) as { status: string };
    expect(row.status).toBe("succeeded");
  });

  it("a failing streamed invocation ends with an error event carrying a problem", async () => {
    const res = await node.request(
      "/v1/functions/storyteller/invoke",
      jsonPost({ prompt: 42 }, { accept: "text/event-stream" }),
    );
    const events = parseSse(await res.text());
    expect(events.at(-1)).toMatchObject({ event: "error", data: { code: "INPUT_INVALID", status: 422 } });
  });

  it("GET /v1/models lists the provider's models", async () => {
    const res = await node.request("/v1/models");
    const body = (await res.json()) as { provider: string; models: Array<{ name: string }> };
    expect(body.provider).toBe("ollama");
    expect(body.models.map((m) => m.name)).toContain(MODEL);
  });

  it("POST /v1/models/pull streams progress as NDJSON and ends with success", async () => {
    const res = await node.request("/v1/models/pull", jsonPost({ model: "qwen3:0.6b" }));
    expect(res.status).toBe(200);
    const lines = (await res.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { status: string });
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.at(-1)).toEqual({ status: "success" });
  });

  it("an unknown model to pull ends with an error line, not a 500", async () => {
    const res = await node.request("/v1/models/pull", jsonPost({ model: "nope:1b" }));
    const lines = (await res.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { status: string; error?: { code: string } });
    expect(lines.at(-1)?.status).toBe("error");
  });
});
