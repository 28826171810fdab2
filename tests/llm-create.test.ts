import { describe, expect, it, vi } from "vitest";
import { ConfigError } from "../runtime/errors.ts";
import { createLLM } from "../runtime/llm/index.ts";

/**
 * createLLM picks the provider from the node's config and loads nothing: an edge box must
 * start (and serve everything else) without node-llama-cpp installed and without Ollama up.
 * Here node-llama-cpp is "not installed": importing it fails the way Node fails.
 */
const nodeLlamaCpp = vi.hoisted(() => ({ imports: 0 }));
vi.mock("node-llama-cpp", () => {
  nodeLlamaCpp.imports++;
  throw Object.assign(
    new Error("Cannot find package 'node-llama-cpp' imported from /app/runtime/llm/embedded-runtime.ts"),
    { code: "ERR_MODULE_NOT_FOUND" },
  );
});

const MODEL_FILE = new URL("../package.json", import.meta.url).pathname; // any existing file: it is never read here

describe("createLLM", () => {
  it("none: every call explains how to configure a provider; models list is empty", async () => {
    const llm = createLLM({ llmProvider: "none", ollamaHost: "http://127.0.0.1:11434" });
    expect(llm.provider).toBe("none");
    expect(await llm.listModels()).toEqual([]);
    await expect(llm.generate("x")).rejects.toMatchObject({
      status: 503,
      code: "LLM_UNAVAILABLE",
      message: expect.stringContaining("SUTAZAI_LLM_PROVIDER"),
    });
  });

  it("ollama: created without contacting the daemon", () => {
    const llm = createLLM({
      llmProvider: "ollama",
      llmModel: "llama3.2:1b",
      ollamaHost: "http://127.0.0.1:1",
    });
    expect(llm.provider).toBe("ollama");
  });

  it("embedded: created without importing node-llama-cpp; the first call says how to install it", async () => {
    const llm = createLLM({ llmProvider: "embedded", llmModel: MODEL_FILE, ollamaHost: "", llmThreads: 1 });
    expect(llm.provider).toBe("embedded");
    expect(nodeLlamaCpp.imports).toBe(0);
    const err = await llm.generate("Once upon a time").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ status: 503, code: "LLM_UNAVAILABLE" });
    expect((err as Error).message).toContain("npm i -E node-llama-cpp@3.21.1");
    expect(await llm.ps()).toEqual([]);
  });

  it("embedded: a missing model file is 503 naming the file", async () => {
    const llm = createLLM({ llmProvider: "embedded", llmModel: "/nonexistent/model.gguf", ollamaHost: "" });
    await expect(llm.chat([{ role: "user", content: "x" }])).rejects.toMatchObject({
      status: 503,
      message: expect.stringContaining("/nonexistent/model.gguf"),
    });
  });

  it("misconfiguration throws a ConfigError at start-up", () => {
    expect(() => createLLM({ llmProvider: "embedded", ollamaHost: "" })).toThrow(ConfigError);
    expect(() =>
      createLLM({ llmProvider: "embedded", llmModel: MODEL_FILE, ollamaHost: "", llmThreads: 0 }),
    ).toThrow(ConfigError);
    expect(() => createLLM({ llmProvider: "gpt" as never, ollamaHost: "" })).toThrow(ConfigError);
  });
});
