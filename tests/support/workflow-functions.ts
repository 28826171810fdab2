import { expect } from "vitest";
import { z } from "zod";
import { type AnyFunction, defineFunction } from "../../runtime/function.ts";
import type { WorkflowView } from "../../runtime/workflows/types.ts";
import { jsonPost, type TestNode } from "./test-node.ts";

/** Functions and helpers shared by tests/workflows*.test.ts. */

// ---- functions the workflows run; they record when they ran --------------------------------

export const events: Array<{ tag: string; kind: "start" | "end"; t: number }> = [];
export const spanOf = (tag: string) => ({
  start: events.find((e) => e.tag === tag && e.kind === "start")!.t,
  end: events.find((e) => e.tag === tag && e.kind === "end")!.t,
});
const failCalls = new Map<string, number>();

const add = defineFunction({
  name: "wf-add",
  description: "a + b",
  input: z.object({ a: z.number(), b: z.number() }),
  output: z.object({ sum: z.number() }),
  handler: ({ a, b }) => ({ sum: a + b }),
});
const double = defineFunction({
  name: "wf-double",
  description: "2n",
  input: z.object({ n: z.number() }),
  output: z.object({ n: z.number() }),
  handler: ({ n }) => ({ n: n * 2 }),
});
const slow = defineFunction({
  name: "wf-slow",
  description: "sleeps, recording its start and end",
  input: z.object({ tag: z.string(), ms: z.number() }),
  output: z.object({ tag: z.string() }),
  async handler({ tag, ms }) {
    events.push({ tag, kind: "start", t: Date.now() });
    await new Promise((r) => setTimeout(r, ms));
    events.push({ tag, kind: "end", t: Date.now() });
    return { tag };
  },
});
const list = defineFunction({
  name: "wf-list",
  description: "a structured output to $ref into",
  input: z.object({}),
  output: z.unknown(),
  handler: () => ({
    items: [
      { name: "x", n: 1 },
      { name: "y", n: 2 },
    ],
    meta: { nested: { deep: "found" } },
  }),
});
const collect = defineFunction({
  name: "wf-collect",
  description: "returns its input",
  input: z.record(z.string(), z.unknown()),
  output: z.object({ got: z.unknown() }),
  handler: (input) => ({ got: input }),
});
const failOnce = defineFunction({
  name: "wf-fail-once",
  description: "fails the first call per key",
  input: z.object({ key: z.string() }),
  output: z.object({ calls: z.number() }),
  retries: 2,
  handler({ key }) {
    const calls = (failCalls.get(key) ?? 0) + 1;
    failCalls.set(key, calls);
    if (calls === 1) throw new Error("first call fails on purpose");
    return { calls };
  },
});
const alwaysFail = defineFunction({
  name: "wf-always-fail",
  description: "always throws",
  input: z.object({}),
  output: z.object({}),
  retries: 1,
  handler: () => {
    throw new Error("broken on purpose");
  },
});
const starter = defineFunction({
  name: "wf-starter",
  description: "starts a workflow through ctx.workflows and waits for it",
  input: z.object({ spec: z.unknown() }),
  output: z.object({ id: z.string(), status: z.string() }),
  timeoutMs: 20_000,
  async handler({ spec }, ctx) {
    const { id } = await ctx.workflows!.start(spec as never);
    const final = await ctx.workflows!.wait(id, { signal: ctx.signal });
    return { id, status: final.status };
  },
});
export const extraFunctions = [
  add,
  double,
  slow,
  list,
  collect,
  failOnce,
  alwaysFail,
  starter,
] as AnyFunction[];
export const env = { SUTAZAI_RETRY_BACKOFF_MS: "10" };

// ---- helpers --------------------------------------------------------------------------------

export async function start(node: TestNode, spec: unknown, headers: Record<string, string> = {}) {
  const res = await node.request("/v1/workflows", jsonPost(spec, headers));
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status !== 201) throw new Error(`start: ${res.status} ${JSON.stringify(body)}`);
  return body.id as string;
}
export const finish = (node: TestNode, id: string) => node.platform.workflows.wait(id, { timeoutMs: 15_000 });
export const step = (view: WorkflowView, id: string) => view.steps.find((s) => s.id === id)!;

export async function problem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  const body = (await res.json()) as {
    code: string;
    detail: string;
    errors?: Array<{ path: string; message: string }>;
  };
  expect(body.code).toBe(code);
  return body;
}

export async function createKey(node: TestNode, role: string, functions?: string[]) {
  const res = await node.request(
    "/v1/keys",
    jsonPost({ name: `k-${role}-${Math.random()}`, role, functions }),
  );
  expect(res.status).toBe(201);
  return { authorization: `Bearer ${((await res.json()) as { secret: string }).secret}` };
}
