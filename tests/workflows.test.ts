/** The workflow engine running DAGs: order, parallelism, $refs, retries, failure policies, cancel. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WorkflowView } from "../runtime/workflows/types.ts";
import { startTestNode, type TestNode } from "./support/test-node.ts";
import { env, extraFunctions, finish, spanOf, start, step } from "./support/workflow-functions.ts";

let node: TestNode;
beforeAll(async () => {
  node = await startTestNode({ extraFunctions, env });
});
afterAll(async () => {
  await node?.dispose();
});

// ---- running ---------------------------------------------------------------------------------

describe("running a DAG", () => {
  it("never starts a step before all its dependencies finished (diamond)", async () => {
    const s = (tag: string, dependsOn: string[] = []) => ({
      id: tag,
      function: "wf-slow",
      input: { tag: `dag-${tag}`, ms: 60 },
      dependsOn,
    });
    const id = await start(node, { steps: [s("d", ["b", "c"]), s("b", ["a"]), s("c", ["a"]), s("a")] });
    const view = await finish(node, id);
    expect(view.status).toBe("succeeded");
    const [a, b, c, d] = ["a", "b", "c", "d"].map((t) => spanOf(`dag-${t}`));
    expect(b!.start).toBeGreaterThanOrEqual(a!.end);
    expect(c!.start).toBeGreaterThanOrEqual(a!.end);
    expect(d!.start).toBeGreaterThanOrEqual(Math.max(b!.end, c!.end));
    // The view tells the same story, in the order the steps were submitted.
    expect(view.steps.map((x) => x.id)).toEqual(["d", "b", "c", "a"]);
    expect(Date.parse(step(view, "d").startedAt!)).toBeGreaterThanOrEqual(
      Date.parse(step(view, "b").finishedAt!),
    );
  });

  it("runs independent steps in parallel on the queue", async () => {
    const id = await start(node, {
      steps: [
        { id: "left", function: "wf-slow", input: { tag: "par-left", ms: 400 } },
        { id: "right", function: "wf-slow", input: { tag: "par-right", ms: 400 } },
      ],
    });
    expect((await finish(node, id)).status).toBe("succeeded");
    const [l, r] = [spanOf("par-left"), spanOf("par-right")];
    expect(l.start).toBeLessThan(r.end); // the two intervals overlap
    expect(r.start).toBeLessThan(l.end);
  });

  it("passes outputs through $refs, nested in objects and arrays, with paths into arrays", async () => {
    const id = await start(node, {
      steps: [
        { id: "plan", function: "wf-list" },
        {
          id: "sum",
          function: "wf-add",
          dependsOn: ["plan"],
          input: { a: { $ref: "steps.plan.output.items.0.n" }, b: { $ref: "steps.plan.output.items.1.n" } },
        },
        {
          id: "twice",
          function: "wf-double",
          dependsOn: ["sum"],
          input: { n: { $ref: "steps.sum.output.sum" } },
        },
        {
          id: "all",
          function: "wf-collect",
          dependsOn: ["twice"], // plan is an indirect dependency: readable too
          input: {
            items: { $ref: "steps.plan.output.items" },
            deep: { $ref: "steps.plan.output.meta.nested.deep" },
            list: [
              1,
              { $ref: "steps.twice.output.n" },
              { inner: { $ref: "steps.plan.output.items.1.name" } },
            ],
            whole: { $ref: "steps.sum.output" },
          },
        },
      ],
    });
    const view = await finish(node, id);
    expect(view.status).toBe("succeeded");
    expect(step(view, "twice").output).toEqual({ n: 6 });
    expect(step(view, "all").output).toEqual({
      got: {
        items: [
          { name: "x", n: 1 },
          { name: "y", n: 2 },
        ],
        deep: "found",
        list: [1, 6, { inner: "y" }],
        whole: { sum: 3 },
      },
    });
  });

  it("fails a step whose $ref path is missing at run time, with a clear error", async () => {
    const id = await start(node, {
      steps: [
        { id: "plan", function: "wf-list" },
        {
          id: "use",
          function: "wf-double",
          dependsOn: ["plan"],
          input: { n: { $ref: "steps.plan.output.items.5.n" } },
        },
      ],
    });
    const view = await finish(node, id);
    expect(view.status).toBe("failed");
    expect(step(view, "use")).toMatchObject({
      status: "failed",
      invocationId: null,
      error: { code: "WORKFLOW_REF_MISSING" },
    });
    expect(step(view, "use").error!.message).toContain('has no "items.5"');
  });

  it("retries a step with its function's retries: a flaky step succeeds on attempt 2", async () => {
    const id = await start(node, {
      steps: [
        { id: "flaky", function: "wf-fail-once", input: { key: `k-${Math.random()}` } },
        {
          id: "after",
          function: "wf-double",
          dependsOn: ["flaky"],
          input: { n: { $ref: "steps.flaky.output.calls" } },
        },
      ],
    });
    const view = await finish(node, id);
    expect(view.status).toBe("succeeded");
    expect(step(view, "flaky")).toMatchObject({ status: "succeeded", attempts: 2, output: { calls: 2 } });
    expect(step(view, "after").output).toEqual({ n: 4 });
  });
});

// ---- failure policies and cancellation ------------------------------------------------------

describe("when a step fails", () => {
  it("onFailure stop: fails the workflow and cancels the steps that had not started", async () => {
    const id = await start(node, {
      onFailure: "stop",
      steps: [
        { id: "bad", function: "wf-always-fail" },
        { id: "afterBad", function: "wf-double", dependsOn: ["bad"], input: { n: 1 } },
        { id: "slowRoot", function: "wf-slow", input: { tag: "stop-root", ms: 500 } },
        { id: "afterSlow", function: "wf-double", dependsOn: ["slowRoot"], input: { n: 1 } },
      ],
    });
    const view = await finish(node, id);
    expect(view.status).toBe("failed");
    expect(view.error).toMatchObject({ code: "WORKFLOW_STEP_FAILED" });
    expect(view.error!.message).toContain('"bad"');
    expect(step(view, "bad")).toMatchObject({
      status: "failed",
      attempts: 2,
      error: { code: "FUNCTION_ERROR", message: "broken on purpose" },
    });
    expect(step(view, "afterBad").status).toBe("cancelled");
    expect(step(view, "afterSlow")).toMatchObject({ status: "cancelled", invocationId: null });
    expect(["succeeded", "cancelled"]).toContain(step(view, "slowRoot").status); // a running step finishes
  });

  it("onFailure continue: skips the failed step's dependents, the independent branch completes", async () => {
    const id = await start(node, {
      onFailure: "continue",
      steps: [
        { id: "bad", function: "wf-always-fail" },
        { id: "child", function: "wf-double", dependsOn: ["bad"], input: { n: 1 } },
        { id: "grandchild", function: "wf-double", dependsOn: ["child"], input: { n: 1 } },
        { id: "ok", function: "wf-add", input: { a: 1, b: 2 } },
        {
          id: "okAfter",
          function: "wf-double",
          dependsOn: ["ok"],
          input: { n: { $ref: "steps.ok.output.sum" } },
        },
      ],
    });
    const view = await finish(node, id);
    expect(view.status).toBe("failed");
    expect(view.steps.map((s) => [s.id, s.status])).toEqual([
      ["bad", "failed"],
      ["child", "skipped"],
      ["grandchild", "skipped"],
      ["ok", "succeeded"],
      ["okAfter", "succeeded"],
    ]);
    expect(step(view, "okAfter").output).toEqual({ n: 6 });
    expect(view.error!.message).toContain('"bad" (failed)');
  });
});

describe("cancelling", () => {
  it("stops pending steps; the running one finishes and nothing new starts", async () => {
    const id = await start(node, {
      steps: [
        { id: "running", function: "wf-slow", input: { tag: "cancel-running", ms: 400 } },
        { id: "next", function: "wf-double", dependsOn: ["running"], input: { n: 1 } },
      ],
    });
    for (
      let i = 0;
      i < 200 && step(await node.platform.workflows.get(id), "running").status !== "running";
      i++
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const res = await node.request(`/v1/workflows/${id}`, { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as WorkflowView).status).toBe("cancelled");
    const view = await finish(node, id);
    expect(view.status).toBe("cancelled");
    expect(step(view, "running").status).toBe("succeeded");
    expect(step(view, "next")).toMatchObject({ status: "cancelled", invocationId: null });
    expect((await node.request(`/v1/workflows/${id}`, { method: "DELETE" })).status).toBe(200); // idempotent
  });

  it("withdraws a queued step's invocation", async () => {
    const idle = await startTestNode({ extraFunctions, env, worker: false });
    try {
      const id = await start(idle, { steps: [{ id: "queued", function: "wf-add", input: { a: 1, b: 1 } }] });
      const before = await idle.platform.workflows.get(id);
      expect(step(before, "queued").status).toBe("queued");
      const view = await idle.platform.workflows.cancel(id);
      expect(step(view, "queued").status).toBe("cancelled");
      const inv = (await (
        await idle.request(`/v1/invocations/${step(before, "queued").invocationId}`)
      ).json()) as { status: string };
      expect(inv.status).toBe("cancelled");
    } finally {
      await idle.dispose();
    }
  });
});
