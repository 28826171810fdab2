/** Workflow validation (422 naming the step), the HTTP contract and ctx.workflows. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WorkflowView } from "../runtime/workflows/types.ts";
import { jsonPost, startTestNode, type TestNode } from "./support/test-node.ts";
import {
  createKey,
  env,
  extraFunctions,
  finish,
  problem,
  start,
  step,
} from "./support/workflow-functions.ts";

let node: TestNode;
beforeAll(async () => {
  node = await startTestNode({ extraFunctions, env });
});
afterAll(async () => {
  await node?.dispose();
});

// ---- validation ------------------------------------------------------------------------------

describe("invalid workflows are refused before anything runs (422 naming the step)", () => {
  const invalid = async (spec: unknown, headers: Record<string, string> = {}) => {
    const body = await problem(
      await node.request("/v1/workflows", jsonPost(spec, headers)),
      422,
      "WORKFLOW_INVALID",
    );
    return body.errors!;
  };

  it("an unknown function", async () => {
    const errors = await invalid({
      steps: [
        { id: "a", function: "wf-add", input: { a: 1, b: 2 } },
        { id: "b", function: "no-such-fn" },
      ],
    });
    expect(errors).toEqual([
      { path: "steps.b", message: expect.stringContaining('Unknown function "no-such-fn"') },
    ]);
  });

  it("a cycle, naming the steps in it", async () => {
    const errors = await invalid({
      steps: [
        { id: "root", function: "wf-list" },
        { id: "x", function: "wf-list", dependsOn: ["root", "z"] },
        { id: "y", function: "wf-list", dependsOn: ["x"] },
        { id: "z", function: "wf-list", dependsOn: ["y"] },
      ],
    });
    expect(errors).toHaveLength(1);
    expect(errors[0]!.path).toMatch(/^steps\.[xyz]$/);
    for (const s of ['"x"', '"y"', '"z"']) expect(errors[0]!.message).toContain(s);
    expect(errors[0]!.message).not.toContain('"root"');
  });

  it("a $ref to a step that does not exist, or that is not a dependency", async () => {
    const errors = await invalid({
      steps: [
        { id: "a", function: "wf-list" },
        { id: "b", function: "wf-double", input: { n: { $ref: "steps.a.output.items.0.n" } } }, // a not in dependsOn
        { id: "c", function: "wf-double", dependsOn: ["a"], input: { n: { $ref: "steps.ghost.output.n" } } },
        { id: "d", function: "wf-double", dependsOn: ["nobody"], input: { n: 1 } },
        { id: "e", function: "wf-double", input: { n: { $ref: "a.output" } } },
      ],
    });
    expect(errors.map((e) => e.path)).toEqual(["steps.b", "steps.c", "steps.d", "steps.e"]);
    expect(errors[0]!.message).toContain("not among its dependencies");
    expect(errors[1]!.message).toContain('"ghost", which does not exist');
    expect(errors[2]!.message).toContain('"nobody"');
  });

  it("duplicate ids, bad inputs and the step limit", async () => {
    const dup = await invalid({
      steps: [
        { id: "a", function: "wf-list" },
        { id: "a", function: "wf-list" },
      ],
    });
    expect(dup[0]).toMatchObject({ path: "steps.a", message: expect.stringContaining("more than once") });
    const input = await invalid({ steps: [{ id: "a", function: "wf-add", input: { a: "one", b: 2 } }] });
    expect(input[0]).toMatchObject({ path: "steps.a", message: expect.stringContaining("input.a") });
    const many = await invalid({
      steps: Array.from({ length: 101 }, (_, i) => ({ id: `s${i}`, function: "wf-list" })),
    });
    expect(many[0]!.path).toBe("steps");
    expect((await invalid({})).length).toBeGreaterThan(0);
  });

  it("a function the caller may not invoke (a key restricted to echo)", async () => {
    const restricted = await createKey(node, "developer", ["echo"]);
    const errors = await invalid(
      {
        steps: [
          { id: "ok", function: "echo" },
          { id: "nope", function: "wf-add", input: { a: 1, b: 2 } },
        ],
      },
      restricted,
    );
    expect(errors).toEqual([
      { path: "steps.nope", message: expect.stringContaining('may not invoke "wf-add"') },
    ]);
  });

  it("a device key, through a function it is granted, cannot reach the functions it is not", async () => {
    const device = await createKey(node, "device", ["wf-starter", "echo"]);
    const spec = {
      steps: [
        { id: "fine", function: "echo" },
        { id: "forbidden", function: "wf-add", input: { a: 1, b: 1 } },
      ],
    };
    const res = await node.request("/v1/functions/wf-starter/invoke", jsonPost({ spec }, device));
    const body = await problem(res, 422, "WORKFLOW_INVALID");
    expect(body.errors).toEqual([
      { path: "steps.forbidden", message: expect.stringContaining("role device") },
    ]);
    // …and devices may not start workflows over HTTP at all.
    await problem(await node.request("/v1/workflows", jsonPost(spec, device)), 403, "FORBIDDEN");
  });
});

// ---- the HTTP contract and ctx.workflows -----------------------------------------------------

describe("HTTP endpoints", () => {
  it("POST answers 201 {id, status, location}; GET shows every step; DELETE of a finished one is 409", async () => {
    const res = await node.request(
      "/v1/workflows",
      jsonPost({ steps: [{ id: "only", function: "wf-add", input: { a: 2, b: 3 } }] }),
    );
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: string; status: string; location: string };
    // One fast step may already be done by the time the response is written.
    expect(created).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: expect.stringMatching(/^(running|succeeded)$/),
      location: `/v1/workflows/${created.id}`,
    });
    expect(res.headers.get("location")).toBe(created.location);
    await finish(node, created.id);
    const view = (await (await node.request(created.location)).json()) as WorkflowView;
    expect(view).toMatchObject({
      id: created.id,
      status: "succeeded",
      onFailure: "stop",
      error: null,
      principal: expect.any(String),
    });
    expect(view.steps[0]).toEqual({
      id: "only",
      function: "wf-add",
      dependsOn: [],
      status: "succeeded",
      invocationId: expect.any(String),
      attempts: 1,
      output: { sum: 5 },
      error: null,
      queuedAt: expect.any(String),
      startedAt: expect.any(String),
      finishedAt: expect.any(String),
      durationMs: expect.any(Number),
    });
    const inv = (await (
      await node.request(`/v1/invocations/${view.steps[0]!.invocationId}`)
    ).json()) as Record<string, unknown>;
    expect(inv).toMatchObject({
      trigger: "workflow",
      status: "succeeded",
      idempotencyKey: `wf:${created.id}:only`,
    });
    await problem(
      await node.request(created.location, { method: "DELETE" }),
      409,
      "WORKFLOW_NOT_CANCELLABLE",
    );
    await problem(
      await node.request("/v1/workflows/00000000-0000-7000-8000-000000000000"),
      404,
      "WORKFLOW_NOT_FOUND",
    );
    const auditor = await createKey(node, "auditor");
    await problem(await node.request("/v1/workflows", jsonPost({ steps: [] }, auditor)), 403, "FORBIDDEN");
    expect((await node.request(created.location, { headers: auditor })).status).toBe(200);
    const doc = (await (await node.request("/openapi.json")).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/v1/workflows", "/v1/workflows/{id}"]));
  });

  it("only the starter or a manager may cancel", async () => {
    const dev = await createKey(node, "developer");
    const other = await createKey(node, "developer");
    const id = await start(
      node,
      { steps: [{ id: "s", function: "wf-slow", input: { tag: "owner", ms: 200 } }] },
      dev,
    );
    await problem(
      await node.request(`/v1/workflows/${id}`, { method: "DELETE", headers: other }),
      403,
      "FORBIDDEN",
    );
    expect((await node.request(`/v1/workflows/${id}`, { method: "DELETE", headers: dev })).status).toBe(200);
    await finish(node, id);
  });

  it("ctx.workflows starts and waits for a workflow as the function's caller", async () => {
    const spec = {
      steps: [
        { id: "a", function: "wf-add", input: { a: 1, b: 1 } },
        { id: "b", function: "wf-double", dependsOn: ["a"], input: { n: { $ref: "steps.a.output.sum" } } },
      ],
    };
    const res = await node.request("/v1/functions/wf-starter/invoke", jsonPost({ spec }));
    expect(res.status).toBe(200);
    const { output } = (await res.json()) as { output: { id: string; status: string } };
    expect(output.status).toBe("succeeded");
    expect(step(await node.platform.workflows.get(output.id), "b").output).toEqual({ n: 4 });
  });
});
