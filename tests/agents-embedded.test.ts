import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLLM } from "../runtime/llm/create.ts";
import type { Answer } from "./support/agents-node.ts";
import { jsonPost, startTestNode, type TestNode } from "./support/test-node.ts";

/**
 * One end-to-end call per agent with the REAL embedded model (stories260K, 1 thread). It
 * writes children's stories, not code reviews or plans, so these tests assert shapes and
 * the recorded invocation, never wording: node-llama-cpp's JSON-schema grammar is what
 * makes its structured answers valid.
 */
const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const TEST_MODEL = process.env.SUTAZAI_TEST_MODEL ?? `${repoRoot}../shared/models/stories260K.gguf`;

let node: TestNode;
beforeAll(async () => {
  if (!existsSync(TEST_MODEL)) {
    throw new Error(
      `The agent end-to-end tests need the test model at ${TEST_MODEL} (see ../shared/models/README.md); put it there or set SUTAZAI_TEST_MODEL=/path/to/stories260K.gguf.`,
    );
  }
  node = await startTestNode({
    llm: createLLM({ llmProvider: "embedded", llmModel: TEST_MODEL, llmThreads: 1 }),
  });
});
afterAll(async () => {
  await node?.dispose();
});

async function invoke(fn: string, input: unknown): Promise<Answer> {
  const res = await node.request(`/v1/functions/${fn}/invoke`, jsonPost(input));
  const body = (await res.json()) as Answer;
  expect(res.status, JSON.stringify(body)).toBe(200);
  const row = (await (await node.request(`/v1/invocations/${body.id}`)).json()) as {
    status: string;
    function: string;
  };
  expect(row).toMatchObject({ status: "succeeded", function: fn });
  return body;
}

describe("agents end to end with the embedded model", () => {
  it("code-assistant reviews a snippet: findings of the right shape, all on real lines", async () => {
    const code = "function add(a, b) {\n  return a - b;\n}\n";
    const { output } = await invoke("code-assistant", { action: "review", code, threadId: "e2e" });
    expect(output).toMatchObject({
      action: "review",
      model: "stories260K",
      lineCheck: { policy: "drop", lines: 3 },
    });
    expect(Array.isArray(output.findings)).toBe(true);
    for (const f of output.findings) {
      expect(f).toEqual({
        line: expect.any(Number),
        severity: expect.stringMatching(/^(info|warning|error)$/),
        message: expect.any(String),
        suggestion: expect.any(String),
      });
      expect(f.line).toBeGreaterThanOrEqual(1);
      expect(f.line).toBeLessThanOrEqual(3);
    }
  });

  it("task-coordinator plans with the grammar-constrained model and runs the plan as a workflow", async () => {
    const { output } = await invoke("task-coordinator", {
      goal: "Say hello.",
      functions: ["echo"],
      maxSteps: 1,
    });
    expect(output.plan.steps).toEqual([
      { id: "s1", function: "echo", input: expect.any(Object), dependsOn: [] },
    ]);
    expect(output).toMatchObject({
      status: "succeeded",
      workflowId: expect.any(String),
      planAttempts: expect.any(Number),
    });
    expect(output.steps).toEqual([
      expect.objectContaining({ id: "s1", function: "echo", status: "succeeded" }),
    ]);
  });

  it("resource-optimizer measures the node with the model loaded and adds an explanation", async () => {
    const { output } = await invoke("resource-optimizer", { explain: true });
    expect(output.metrics.llm).toMatchObject({ provider: "embedded", available: true });
    expect(output.metrics.llm.installed).toEqual([expect.objectContaining({ name: "stories260K" })]);
    for (const m of output.metrics.llm.loaded)
      expect(m).toEqual({ name: "stories260K", sizeBytes: expect.any(Number) });
    const llmLimit = output.recommendations.concurrency.find(
      (c: { function: string }) => c.function === "code-assistant",
    );
    expect(llmLimit.recommended).toBe(1); // one embedded context serves one call at a time
    expect(typeof (output.explanation ?? output.explanationUnavailable)).toBe("string");
  });
});
