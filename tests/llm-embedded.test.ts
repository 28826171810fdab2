import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEmbeddedLLM } from "../runtime/llm/embedded.ts";
import { defaultThreads } from "../runtime/llm/embedded-runtime.ts";
import type { LLM } from "../runtime/llm/types.ts";

/**
 * What only the embedded provider has to get right: one model, one context sequence, many
 * callers. Uses the real stories260K model (../shared/models/README.md).
 */
const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const TEST_MODEL = process.env.SUTAZAI_TEST_MODEL ?? `${repoRoot}../shared/models/stories260K.gguf`;

let llm: LLM;
beforeAll(() => {
  if (!existsSync(TEST_MODEL)) {
    throw new Error(
      `The embedded LLM tests need the test model at ${TEST_MODEL} (see ../shared/models/README.md); put it there or set SUTAZAI_TEST_MODEL=/path/to/stories260K.gguf.`,
    );
  }
  llm = createEmbeddedLLM({ modelPath: TEST_MODEL, threads: 1 });
});
afterAll(async () => {
  await llm?.close();
});

describe("embedded provider", () => {
  it("writes the story the model README promises at temperature 0", async () => {
    const res = await llm.generate("Once upon a time", { maxTokens: 30, temperature: 0 });
    expect(`Once upon a time${res.text}`).toBe(
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day,",
    );
    expect(res).toMatchObject({
      model: "stories260K",
      doneReason: "length",
      usage: { completionTokens: 30 },
    });
  });

  it("queues concurrent calls; one aborted while it waits is skipped and the others finish", async () => {
    const skippedTokens: string[] = [];
    const ac = new AbortController();
    const first = llm.generate("Once upon a time", { maxTokens: 200, temperature: 0 });
    const skipped = llm.generate("Once upon a time", {
      maxTokens: 200,
      signal: ac.signal,
      onToken: (t) => skippedTokens.push(t),
    });
    const third = llm.generate("Once upon a time", { maxTokens: 200, temperature: 0 });
    ac.abort();
    await expect(skipped).rejects.toMatchObject({ code: "CANCELLED" });
    const [a, c] = await Promise.all([first, third]);
    expect(c.text).toBe(a.text);
    expect(skippedTokens).toEqual([]);
  });

  it("a call that times out while queued behind a long one fails with LLM_TIMEOUT, the long one still completes", async () => {
    const long = llm.generate("Once upon a time", { maxTokens: 400, temperature: 0 });
    const queued = llm.generate("Once upon a time", { maxTokens: 10, timeoutMs: 1 });
    await expect(queued).rejects.toMatchObject({ code: "LLM_TIMEOUT" });
    expect((await long).text.length).toBeGreaterThan(0);
  });

  it("stop sequences end the answer", async () => {
    const tokens: string[] = [];
    const res = await llm.generate("Once upon a time", {
      maxTokens: 60,
      temperature: 0,
      stop: ["Lily"],
      onToken: (t) => tokens.push(t),
    });
    expect(res.text).toBe(", there was a little girl named");
    expect(tokens.join("")).toBe(res.text);
    expect(res.doneReason).toBe("stop");
  });

  it("serves any model tag with its one GGUF, but refuses another .gguf file", async () => {
    expect((await llm.generate("Once upon a time", { model: "llama3.2:1b", maxTokens: 4 })).model).toBe(
      "stories260K",
    );
    await expect(llm.generate("x", { model: "/models/other.gguf" })).rejects.toMatchObject({
      status: 404,
      code: "MODEL_NOT_FOUND",
    });
  });

  it("cannot pull models (400), and an empty text still gets a vector of the model's dimension", async () => {
    await expect(llm.pull("llama3.2:1b")).rejects.toMatchObject({
      status: 400,
      code: "LLM_PULL_UNSUPPORTED",
    });
    const [empty, word] = await llm.embed(["", "cat"]);
    expect(empty).toHaveLength(64);
    expect(word).toHaveLength(64);
  });

  it("close frees the model; the next call loads it again", async () => {
    await llm.close();
    expect(await llm.ps()).toEqual([]);
    const res = await llm.generate("Once upon a time", { maxTokens: 5, temperature: 0 });
    expect(res.text.length).toBeGreaterThan(0);
    expect((await llm.ps())[0]?.name).toBe("stories260K");
  });

  it("defaults to one thread on small boxes", () => {
    expect(defaultThreads(1)).toBe(1);
    expect(defaultThreads(2)).toBe(1);
    expect(defaultThreads(8)).toBe(4);
    expect(defaultThreads(64)).toBe(8);
  });
});
