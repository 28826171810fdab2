import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createOllamaLLM } from "../runtime/llm/ollama.ts";
import type { LLM } from "../runtime/llm/types.ts";
import { type FakeOllama, startFakeOllama } from "./support/fake-ollama.ts";
import { freePort } from "./support/free-port.ts";

/**
 * How the ollama provider fails: each Ollama failure mode, produced by the fake exactly as
 * Ollama produces it, must become one AppError whose code and detail tell the user what to do.
 */
const MODEL = "llama3.2:1b";
const PLAN = {
  type: "object",
  properties: { steps: { type: "array", items: { type: "string" }, minItems: 1 } },
  required: ["steps"],
};

let fake: FakeOllama;
let llm: LLM;
beforeAll(async () => {
  fake = await startFakeOllama({ models: [MODEL], pullable: ["qwen3:0.6b"] });
  llm = createOllamaLLM({ host: fake.url, model: MODEL });
});
afterAll(async () => {
  await fake.close();
});

const chatBodies = () => fake.requests.filter((r) => r.path === "/api/chat").map((r) => r.body ?? {});

describe("Ollama daemon down", () => {
  it("every call answers 503 LLM_UNAVAILABLE saying how to start Ollama", async () => {
    const host = `http://127.0.0.1:${await freePort()}`;
    const down = createOllamaLLM({ host, model: MODEL });
    const errors = await Promise.all(
      [
        down.chat([{ role: "user", content: "hi" }]),
        down.generate("hi"),
        down.embed(["hi"]),
        down.listModels(),
        down.ps(),
        down.ping(),
      ].map((call) =>
        call.then(
          () => undefined,
          (e: unknown) => e,
        ),
      ),
    );
    for (const err of errors) {
      expect(err).toMatchObject({ status: 503, code: "LLM_UNAVAILABLE" });
      expect((err as Error).message).toContain("ECONNREFUSED");
      expect((err as Error).message).toContain("ollama serve");
      expect((err as Error).message).toContain("OLLAMA_HOST");
      expect((err as Error).message).toContain(host);
    }
  });
});

describe("unknown model", () => {
  it("chat, generate and embed answer 404 MODEL_NOT_FOUND with the `ollama pull` to run", async () => {
    const errors = await Promise.all(
      [
        llm.chat([{ role: "user", content: "hi" }], { model: "mistral:7b" }),
        llm.generate("hi", { model: "mistral:7b" }),
        llm.embed(["hi"], { model: "mistral:7b" }),
      ].map((call) =>
        call.then(
          () => undefined,
          (e: unknown) => e,
        ),
      ),
    );
    for (const err of errors) {
      expect(err).toMatchObject({ status: 404, code: "MODEL_NOT_FOUND" });
      expect((err as Error).message).toContain("ollama pull mistral:7b");
    }
  });

  it("pull streams progress, after which the model is listed; an unknown name is MODEL_NOT_FOUND", async () => {
    const progress: string[] = [];
    await llm.pull("qwen3:0.6b", { onProgress: (p) => progress.push(p.status) });
    expect(progress[0]).toBe("pulling manifest");
    expect(progress.at(-1)).toBe("success");
    expect((await llm.listModels()).map((m) => m.name)).toContain("qwen3:0.6b");
    await expect(llm.pull("no-such-model:1b")).rejects.toMatchObject({
      status: 404,
      code: "MODEL_NOT_FOUND",
    });
  });
});

describe("structured output", () => {
  it("invalid JSON, then valid on the re-ask: succeeds, and the re-ask carried the error", async () => {
    fake.script(
      MODEL,
      { content: "Sure! Here is the plan: steps are one, two" },
      { content: '{"steps":["one","two"]}' },
    );
    const before = chatBodies().length;
    const res = await llm.chat([{ role: "user", content: "Plan it." }], { format: PLAN });
    expect(res.json).toEqual({ steps: ["one", "two"] });
    const [, reask] = chatBodies().slice(before);
    const messages = reask?.messages as Array<{ role: string; content: string }>;
    expect(messages.at(-2)).toEqual({
      role: "assistant",
      content: "Sure! Here is the plan: steps are one, two",
    });
    expect(messages.at(-1)?.content).toContain("not valid JSON");
    expect(reask?.format).toEqual(PLAN);
  });

  it("JSON of the wrong shape is re-asked too, with the schema errors", async () => {
    fake.script(MODEL, { content: '{"steps":[]}' }, { content: '{"steps":["only"]}' });
    const before = chatBodies().length;
    const res = await llm.chat([{ role: "user", content: "Plan it." }], { format: PLAN });
    expect(res.json).toEqual({ steps: ["only"] });
    const reask = chatBodies().slice(before)[1]?.messages as Array<{ content: string }>;
    expect(reask.at(-1)?.content).toContain("steps");
  });

  it("JSON wrapped in a markdown fence is accepted without a re-ask", async () => {
    fake.script(MODEL, { content: '```json\n{"steps":["a"]}\n```' });
    const before = chatBodies().length;
    const res = await llm.chat([{ role: "user", content: "Plan it." }], { format: PLAN });
    expect(res.json).toEqual({ steps: ["a"] });
    expect(chatBodies().length - before).toBe(1);
  });

  it("invalid twice: 502 LLM_OUTPUT_INVALID with the reasons", async () => {
    fake.script(MODEL, { content: "no" }, { content: '{"steps": "not a list"}' });
    const err = await llm.generate("Plan it.", { format: PLAN }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({
      status: 502,
      code: "LLM_OUTPUT_INVALID",
      errors: [{ path: "steps", message: expect.any(String) }],
    });
  });

  it("a schema zod cannot read is 400 before the model is asked", async () => {
    const before = fake.requests.length;
    await expect(
      llm.chat([{ role: "user", content: "x" }], { format: { type: "no-such-type" } }),
    ).rejects.toMatchObject({ status: 400, code: "LLM_FORMAT_UNSUPPORTED" });
    expect(fake.requests.length).toBe(before);
  });
});

describe("streams that break", () => {
  it("an error line in the middle of the stream is 502 LLM_STREAM_FAILED with Ollama's message; earlier tokens were delivered", async () => {
    fake.script(MODEL, {
      content: "one two three four five",
      failAfterTokens: 2,
      streamError: "an error was encountered while running the model: CUDA error",
    });
    const tokens: string[] = [];
    const err = await llm.chat([{ role: "user", content: "count" }], { onToken: (t) => tokens.push(t) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ status: 502, code: "LLM_STREAM_FAILED" });
    expect((err as Error).message).toContain("CUDA error");
    expect(tokens.join("")).toBe("one two");
  });

  it("a connection cut midway (no error line, no final chunk) is LLM_STREAM_FAILED", async () => {
    fake.script(MODEL, { content: "one two three", dropAfterTokens: 1 });
    await expect(llm.generate("count")).rejects.toMatchObject({ status: 502, code: "LLM_STREAM_FAILED" });
  });

  it("slow tokens past timeoutMs: 504 LLM_TIMEOUT, and Ollama's connection is closed so it stops generating", async () => {
    fake.script(MODEL, { tokens: Array.from({ length: 100 }, () => " slow"), tokenDelayMs: 30 });
    await expect(llm.chat([{ role: "user", content: "go" }], { timeoutMs: 150 })).rejects.toMatchObject({
      status: 504,
      code: "LLM_TIMEOUT",
    });
    await vi.waitFor(() => expect(fake.inFlight()).toBe(0), { timeout: 2000 });
  });

  it("a model that takes too long to start answering times out too", async () => {
    fake.script(MODEL, { startDelayMs: 1000 });
    await expect(llm.generate("go", { timeoutMs: 100 })).rejects.toMatchObject({ code: "LLM_TIMEOUT" });
  });
});

describe("other Ollama answers", () => {
  it("503 (queue full) is LLM_BUSY with Retry-After; a 500 is LLM_ERROR with Ollama's words", async () => {
    fake.script(MODEL, {
      error: { status: 503, message: "server busy, please try again.  maximum pending requests exceeded" },
    });
    await expect(llm.chat([{ role: "user", content: "x" }])).rejects.toMatchObject({
      status: 503,
      code: "LLM_BUSY",
      headers: { "Retry-After": "1" },
    });
    fake.script(MODEL, { error: { status: 500, message: "llama runner process has terminated" } });
    await expect(llm.generate("x")).rejects.toMatchObject({
      status: 502,
      code: "LLM_ERROR",
      message: expect.stringContaining("llama runner process has terminated"),
    });
  });

  it("an embed failure is reported, not turned into empty vectors", async () => {
    fake.failNext("/api/embed", 500, "embedding failed");
    await expect(llm.embed(["a"])).rejects.toMatchObject({ code: "LLM_ERROR" });
  });

  it("large embedding batches are split into several /api/embed requests, answers kept in order", async () => {
    const batched = createOllamaLLM({ host: fake.url, model: MODEL, embedBatchSize: 2 });
    const before = fake.requests.filter((r) => r.path === "/api/embed").length;
    const texts = ["a", "b", "c", "d", "e"];
    const vectors = await batched.embed(texts);
    expect(fake.requests.filter((r) => r.path === "/api/embed").length - before).toBe(3);
    expect(vectors[4]).toEqual((await llm.embed(["e"]))[0]);
  });

  it("no model configured or passed: 503 saying which setting to use", async () => {
    const bare = createOllamaLLM({ host: fake.url });
    await expect(bare.generate("x")).rejects.toMatchObject({
      status: 503,
      code: "LLM_UNAVAILABLE",
      message: expect.stringContaining("SUTAZAI_LLM_MODEL"),
    });
  });
});

describe("tools", () => {
  it("tool definitions go out, tool calls come back, and the results can be sent back", async () => {
    fake.script(MODEL, { content: "", toolCalls: [{ name: "get_load", arguments: { node: "edge-1" } }] });
    const tools = [
      {
        name: "get_load",
        description: "CPU load of a node",
        parameters: { type: "object", properties: { node: { type: "string" } }, required: ["node"] },
      },
    ];
    const res = await llm.chat([{ role: "user", content: "How busy is edge-1?" }], { tools });
    expect(res.toolCalls).toEqual([{ name: "get_load", arguments: { node: "edge-1" } }]);
    expect(res.doneReason).toBe("tool_calls");
    expect(chatBodies().at(-1)?.tools).toEqual([{ type: "function", function: tools[0] }]);

    fake.script(MODEL, { content: "edge-1 is at 40%." });
    const followUp = await llm.chat(
      [
        { role: "user", content: "How busy is edge-1?" },
        { role: "assistant", content: "", toolCalls: res.toolCalls },
        { role: "tool", content: '{"load":0.4}', toolName: "get_load" },
      ],
      { tools },
    );
    expect(followUp.content).toBe("edge-1 is at 40%.");
    expect((chatBodies().at(-1)?.messages as unknown[] | undefined)?.slice(1)).toEqual([
      {
        role: "assistant",
        content: "",
        tool_calls: [{ function: { name: "get_load", arguments: { node: "edge-1" } } }],
      },
      { role: "tool", content: '{"load":0.4}', tool_name: "get_load" },
    ]);
  });
});
