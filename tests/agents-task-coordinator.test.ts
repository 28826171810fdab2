import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { ToolRules } from "../functions/task-coordinator/catalogue.ts";
import { validatePlan } from "../functions/task-coordinator/validate.ts";
import { AppError } from "../runtime/errors.ts";
import { defineFunction } from "../runtime/function.ts";
import { type AgentsHarness, type Answer, MODEL, startAgentsHarness } from "./support/agents-node.ts";

/**
 * task-coordinator: plans scripted through the fake Ollama server, validated, re-asked
 * once, refused, and run as workflows on the node's real engine and queue.
 */
const refuse = defineFunction({
  name: "refuse",
  description: "Always fails with a permanent error (no retries)",
  input: z.object({ why: z.string() }),
  output: z.object({}),
  handler: ({ why }) => {
    throw new AppError(409, "REFUSED", why);
  },
});

let h: AgentsHarness;
beforeAll(async () => {
  h = await startAgentsHarness([refuse as never]);
});
afterAll(async () => {
  await h.dispose();
});

const plan = (...steps: Array<{ id: string; function: string; input: unknown; dependsOn?: string[] }>) =>
  JSON.stringify({ steps: steps.map((s) => ({ dependsOn: [], ...s })) });
/** The function names the plan format allowed (its `function` enum). */
const offeredIn = (format: unknown): string[] =>
  (format as Answer).properties.steps.items.properties.function.enum;
const say = (id: string, message: unknown, dependsOn: string[] = []) => ({
  id,
  function: "echo",
  input: { message },
  dependsOn,
});

describe("task-coordinator: planning", () => {
  it("dryRun returns a valid plan; the model saw only invocable functions, never the coordinator itself", async () => {
    h.fake.script(MODEL, { content: plan(say("s1", "hello")) });
    const res = await h.invoke("task-coordinator", { goal: "say hello", dryRun: true });
    expect(res.status).toBe(200);
    expect(res.body.output).toMatchObject({
      status: "planned",
      planAttempts: 1,
      model: MODEL,
      plan: JSON.parse(plan(say("s1", "hello"))),
    });
    expect(res.body.output.workflowId).toBeUndefined();
    const asked = h.chats().at(-1)!;
    const names = offeredIn(asked.format);
    expect(names).toContain("echo");
    expect(names).not.toContain("task-coordinator");
    expect(asked.messages[0]!.content).toContain("Returns its input unchanged");
    expect(asked.messages.at(-1)!.content).toBe("Goal: say hello");
  });

  it("an invalid plan is sent back once with its errors; the corrected plan is used", async () => {
    h.fake.script(MODEL, { content: plan(say("s1", 42)) }, { content: plan(say("s1", "fixed")) });
    const before = h.chats().length;
    const res = await h.invoke("task-coordinator", { goal: "say something", dryRun: true });
    expect(res.status).toBe(200);
    expect(res.body.output.planAttempts).toBe(2);
    expect(res.body.output.plan.steps[0].input).toEqual({ message: "fixed" });
    const calls = h.chats().slice(before);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.messages.at(-2)).toEqual({ role: "assistant", content: plan(say("s1", 42)) });
    expect(calls[1]!.messages.at(-1)!.content).toContain("steps.s1.input.message");
  });

  it("a plan invalid twice is refused with 422 PLAN_INVALID listing the errors; nothing runs", async () => {
    const cyclic = plan(say("s1", "a", ["s2"]), say("s2", "b", ["s1"]));
    h.fake.script(MODEL, { content: plan(say("s1", 1)) }, { content: cyclic });
    const res = await h.invoke("task-coordinator", { goal: "loop" });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe("PLAN_INVALID");
    expect(res.body.errors).toEqual([
      expect.objectContaining({ path: "steps.s1.dependsOn", message: expect.stringMatching(/cycle/) }),
    ]);
    const wf = await h.node.request("/v1/invocations?function=echo");
    expect(((await wf.json()) as { invocations: unknown[] }).invocations).toEqual([]);
  });

  it("a function the caller may not invoke is neither offered nor accepted: refused, never run", async () => {
    const dev = await h.key("developer", ["task-coordinator", "echo"]);
    const forbidden = plan({ id: "s1", function: "refuse", input: { why: "x" } });
    h.fake.script(MODEL, { content: forbidden }, { content: forbidden });
    const res = await h.invoke("task-coordinator", { goal: "use refuse" }, dev);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe("PLAN_INVALID");
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain("steps.0.function");
    const offered = offeredIn(h.chats().at(-1)!.format);
    expect(offered).toEqual(["echo"]);
    expect(h.chats().at(-1)!.messages[0]!.content).not.toContain('"refuse"');
    const runs = await h.node.request("/v1/invocations?function=refuse");
    expect(((await runs.json()) as { invocations: unknown[] }).invocations).toEqual([]);
  });

  it("callers without workflows:run cannot use it at all", async () => {
    const device = await h.key("device", ["task-coordinator", "echo"]);
    const res = await h.invoke("task-coordinator", { goal: "x", dryRun: true }, device);
    expect(res.status).toBe(403);
  });
});

describe("task-coordinator: running the plan as a workflow", () => {
  it("runs the steps in dependency order, passing outputs by $ref, and summarizes each step", async () => {
    const ref = { $ref: "steps.s1.output.message" };
    h.fake.script(MODEL, { content: plan(say("s1", "relay me"), say("s2", ref, ["s1"])) });
    const res = await h.invoke("task-coordinator", { goal: "relay a message" });
    expect(res.status).toBe(200);
    const out = res.body.output;
    expect(out.status).toBe("succeeded");
    expect(out.steps).toEqual([
      expect.objectContaining({
        id: "s1",
        function: "echo",
        status: "succeeded",
        output: expect.objectContaining({ message: "relay me" }),
        error: null,
      }),
      expect.objectContaining({
        id: "s2",
        function: "echo",
        status: "succeeded",
        output: expect.objectContaining({ message: "relay me" }),
        error: null,
      }),
    ]);
    const wf = (await (await h.node.request(`/v1/workflows/${out.workflowId}`)).json()) as { status: string };
    expect(wf.status).toBe("succeeded");
    const row = (await (await h.node.request(`/v1/invocations/${res.body.id}`)).json()) as { status: string };
    expect(row.status).toBe("succeeded");
  });

  it("a failing step fails the workflow (onFailure stop): its error is in the summary, dependents do not run", async () => {
    const steps = plan(
      { id: "s1", function: "refuse", input: { why: "no thanks" } },
      say("s2", "after", ["s1"]),
    );
    h.fake.script(MODEL, { content: steps });
    const res = await h.invoke("task-coordinator", { goal: "fail" });
    expect(res.status).toBe(200);
    const out = res.body.output;
    expect(out.status).toBe("failed");
    expect(out.steps[0]).toMatchObject({
      id: "s1",
      status: "failed",
      error: { code: "REFUSED", message: "no thanks" },
    });
    expect(out.steps[1].status).not.toBe("succeeded");
    expect(out.steps[1].output).toBeUndefined();
  });
});

describe("validatePlan (pure)", () => {
  const echoInput = z.object({ message: z.string().optional() });
  const rules: ToolRules = {
    tools: [{ name: "echo", description: "", inputSchema: {}, input: echoInput }],
    known: new Set(["echo", "telemetry", "task-coordinator", "secret-fn"]),
    permitted: (n) => n !== "secret-fn",
    self: "task-coordinator",
  };
  const paths = (p: unknown, max = 8) => validatePlan(p, rules, max).map((e) => `${e.path}: ${e.message}`);

  it("accepts a DAG whose $ref stands where a string belongs", () => {
    expect(
      paths(JSON.parse(plan(say("a", "x"), say("b", { $ref: "steps.a.output.message" }, ["a"])))),
    ).toEqual([]);
  });

  it("names unknown, forbidden, self and unoffered functions", () => {
    const p = {
      steps: ["nope", "secret-fn", "task-coordinator", "telemetry"].map((f, i) => ({
        id: `s${i}`,
        function: f,
        input: {},
        dependsOn: [],
      })),
    };
    const errors = paths(p);
    expect(errors[0]).toMatch(/^steps\.s0\.function: unknown function "nope"; use one of: echo/);
    expect(errors[1]).toMatch(/^steps\.s1\.function: your credential may not invoke "secret-fn"/);
    expect(errors[2]).toMatch(/^steps\.s2\.function: "task-coordinator" cannot be a step of its own plan/);
    expect(errors[3]).toMatch(
      /^steps\.s3\.function: "telemetry" is not among the functions this plan may use/,
    );
  });

  it("enforces the step limit, unique valid ids, known dependencies and $refs only to dependencies", () => {
    expect(paths(JSON.parse(plan(say("a", "1"), say("b", "2"), say("c", "3"))), 2)).toContain(
      "steps: the plan has 3 steps; at most 2 are allowed",
    );
    expect(paths(JSON.parse(plan(say("a", "1"), say("a", "2"))))[0]).toMatch(
      /^steps\.1\.id: "a" is used by an earlier step/,
    );
    expect(paths(JSON.parse(plan(say("1a", "1"))))[0]).toMatch(/^steps\.0\.id: must start with a letter/);
    expect(paths(JSON.parse(plan(say("a", "1", ["ghost"]))))).toEqual([
      'steps.a.dependsOn: "ghost" is not a step of this plan',
    ]);
    expect(paths(JSON.parse(plan(say("a", "1", ["a"]))))).toContain(
      "steps.a.dependsOn: a step cannot depend on itself",
    );
    expect(paths(JSON.parse(plan(say("a", "1"), say("b", { $ref: "steps.a.output.message" }))))[0]).toMatch(
      /^steps\.b\.input\.message: reads step "a", which this step does not depend on/,
    );
  });

  it("checks inputs against the function's own schema and rejects a malformed plan shape", () => {
    expect(paths(JSON.parse(plan(say("a", 5))))[0]).toMatch(
      /^steps\.a\.input\.message: .*\(input schema of "echo"\)/,
    );
    expect(paths({ steps: "all of them" })).toEqual([
      "steps: Invalid input: expected array, received string",
    ]);
  });
});
