import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../runtime/errors.ts";
import { createEmbeddedLLM } from "../runtime/llm/embedded.ts";
import { createOllamaLLM } from "../runtime/llm/ollama.ts";
import type { LLM, LLMCallOptions } from "../runtime/llm/types.ts";
import { type FakeOllama, startFakeOllama } from "./support/fake-ollama.ts";

/**
 * One suite, every provider: what a function can rely on from `ctx.llm` whichever backend
 * the node runs. (a) the ollama provider against the protocol-faithful fake Ollama;
 * (b) the embedded provider with the real stories260K model (../shared/models/README.md).
 */
const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const TEST_MODEL = process.env.SUTAZAI_TEST_MODEL ?? `${repoRoot}../shared/models/stories260K.gguf`;

interface Backend {
  llm: LLM;
  /** the name listModels should report */
  modelName: string;
  /** makes the next call long enough to be cancelled midway; returns options for it */
  slowCall(): LLMCallOptions;
  close(): Promise<void>;
}

const backends: Array<{ name: string; start: () => Promise<Backend> }> = [
  {
    name: "ollama provider + fake Ollama",
    start: async () => {
      const fake: FakeOllama = await startFakeOllama({
        models: ["llama3.2:1b", { name: "all-minilm:22m", embeddingDim: 48 }],
      });
      const llm = createOllamaLLM({ host: fake.url, model: "llama3.2:1b" });
      return {
        llm,
        modelName: "llama3.2:1b",
        slowCall: () => {
          fake.script("llama3.2:1b", {
            tokens: Array.from({ length: 200 }, (_, i) => ` w${i}`),
            tokenDelayMs: 20,
          });
          return {};
        },
        close: () => fake.close(),
      };
    },
  },
  {
    name: "embedded provider + stories260K.gguf",
    start: async () => {
      if (!existsSync(TEST_MODEL)) {
        throw new Error(
          `The embedded LLM tests need the test model at ${TEST_MODEL} (see ../shared/models/README.md); put it there or set SUTAZAI_TEST_MODEL=/path/to/stories260K.gguf.`,
        );
      }
      const llm = createEmbeddedLLM({ modelPath: TEST_MODEL, threads: 1 });
      return {
        llm,
        modelName: "stories260K",
        slowCall: () => ({ maxTokens: 1500 }),
        close: () => llm.close(),
      };
    },
  },
];

const PERSON = {
  type: "object",
  properties: { name: { type: "string" }, age: { type: "integer" } },
  required: ["name", "age"],
};

describe.each(backends)("LLM conformance: $name", ({ start }) => {
  let b: Backend;
  beforeAll(async () => {
    b = await start();
  });
  afterAll(async () => {
    await b?.close();
  });

  it("generate returns text from the model", async () => {
    const res = await b.llm.generate("Once upon a time", { maxTokens: 24, temperature: 0 });
    expect(res.text.trim().length).toBeGreaterThan(0);
    expect(res.model).toBeTruthy();
    expect(["stop", "length"]).toContain(res.doneReason);
  });

  it("streams tokens through onToken that join to exactly the text", async () => {
    const tokens: string[] = [];
    const res = await b.llm.generate("Once upon a time", {
      maxTokens: 24,
      temperature: 0,
      onToken: (t) => tokens.push(t),
    });
    expect(tokens.length).toBeGreaterThan(1);
    expect(tokens.join("")).toBe(res.text);
  });

  it("is deterministic at temperature 0", async () => {
    const a = await b.llm.generate("Once upon a time", { maxTokens: 16, temperature: 0 });
    const c = await b.llm.generate("Once upon a time", { maxTokens: 16, temperature: 0 });
    expect(c.text).toBe(a.text);
  });

  it("chats: messages in, an assistant answer out, streamed the same way", async () => {
    const tokens: string[] = [];
    const res = await b.llm.chat(
      [
        { role: "system", content: "You tell short stories." },
        { role: "user", content: "Tell me about a cat." },
      ],
      { maxTokens: 24, temperature: 0, onToken: (t) => tokens.push(t) },
    );
    expect(typeof res.content).toBe("string");
    expect(res.content.length).toBeGreaterThan(0);
    expect(tokens.join("")).toBe(res.content);
  });

  it("returns structured output that is valid JSON matching the schema", async () => {
    const res = await b.llm.chat([{ role: "user", content: "Describe a person as JSON." }], {
      format: PERSON,
      maxTokens: 96,
      temperature: 0,
    });
    expect(JSON.parse(res.content)).toEqual(res.json);
    expect(res.json).toEqual({ name: expect.any(String), age: expect.any(Number) });
    expect(Number.isInteger((res.json as { age: number }).age)).toBe(true);

    const gen = await b.llm.generate("Once upon a time", { format: PERSON, maxTokens: 96, temperature: 0 });
    expect(gen.json).toEqual({ name: expect.any(String), age: expect.any(Number) });
  });

  it("embeds a batch: one vector per input, all of the same dimension, the same text the same vector", async () => {
    const vectors = await b.llm.embed(["The cat sat.", "A dog ran.", "The cat sat."]);
    expect(vectors).toHaveLength(3);
    const dim = vectors[0]?.length ?? 0;
    expect(dim).toBeGreaterThan(0);
    for (const v of vectors) {
      expect(v).toHaveLength(dim);
      expect(v.every(Number.isFinite)).toBe(true);
    }
    expect(vectors[2]).toEqual(vectors[0]);
    expect(vectors[1]).not.toEqual(vectors[0]);
    expect(await b.llm.embed([])).toEqual([]);
  });

  it("lists its model, and reports it loaded with its memory after use", async () => {
    await b.llm.generate("Once upon a time", { maxTokens: 2 });
    const models = await b.llm.listModels();
    expect(models.map((m) => m.name)).toContain(b.modelName);
    const loaded = await b.llm.ps();
    expect(loaded.find((m) => m.name === b.modelName)?.size).toBeGreaterThan(0);
    expect(await b.llm.contextSize()).toBeGreaterThan(0);
    expect(await b.llm.countTokens("Once upon a time")).toBeGreaterThan(0);
    await expect(b.llm.ping()).resolves.toBeUndefined();
  });

  it("an AbortSignal stops a generation midway and rejects with CANCELLED", async () => {
    const ac = new AbortController();
    const tokens: string[] = [];
    const opts = b.slowCall();
    const call = b.llm.generate("Once upon a time", {
      ...opts,
      signal: ac.signal,
      onToken: (t) => {
        tokens.push(t);
        ac.abort(); // first token seen: the answer is in full flow
      },
    });
    await expect(call).rejects.toMatchObject({ status: 499, code: "CANCELLED" });
    expect(tokens.length).toBeLessThan(20);
  });

  it("an abort carrying an AppError (the invoke path's timeout) rejects with that error", async () => {
    const ac = new AbortController();
    const reason = new AppError(504, "FUNCTION_TIMEOUT", "Function did not finish in time.");
    const call = b.llm.chat([{ role: "user", content: "Once upon a time" }], {
      ...b.slowCall(),
      signal: ac.signal,
      onToken: () => ac.abort(reason),
    });
    await expect(call).rejects.toBe(reason);
  });

  it("a token callback that throws ends the call with its error instead of generating on", async () => {
    const failure = new Error("the client went away");
    let calls = 0;
    const call = b.llm.generate("Once upon a time", {
      ...b.slowCall(),
      onToken: () => {
        calls++;
        throw failure;
      },
    });
    await expect(call).rejects.toBe(failure);
    expect(calls).toBe(1);
  });

  it("an already aborted signal rejects without calling the model", async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(b.llm.generate("Once upon a time", { signal: ac.signal })).rejects.toMatchObject({
      code: "CANCELLED",
    });
  });

  it("timeoutMs turns a slow call into 504 LLM_TIMEOUT", async () => {
    const call = b.llm.generate("Once upon a time", { ...b.slowCall(), timeoutMs: 1 });
    await expect(call).rejects.toMatchObject({ status: 504, code: "LLM_TIMEOUT" });
  });

  it("five concurrent calls all complete, each with its own answer", async () => {
    const prompts = [1, 2, 3, 4, 5].map((i) => `Once upon a time, story ${i}`);
    const results = await Promise.all(
      prompts.map((p) => b.llm.generate(p, { maxTokens: 16, temperature: 0 })),
    );
    expect(results).toHaveLength(5);
    for (const r of results) expect(r.text.length).toBeGreaterThan(0);
    // the same prompt alone gives the same answer: no call saw another's tokens
    const alone = await b.llm.generate(prompts[2] ?? "", { maxTokens: 16, temperature: 0 });
    expect(results[2]?.text).toBe(alone.text);
  });
});
