/** Workflows under concurrent advancing (server + workers) and across node restarts. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { silentLogger } from "../runtime/log.ts";
import { createWorkflowEngine } from "../runtime/workflows/engine.ts";
import { startTestNode } from "./support/test-node.ts";
import { env, events, extraFunctions, finish, start, step } from "./support/workflow-functions.ts";

// ---- concurrency and restarts ----------------------------------------------------------------

describe("two processes advancing the same workflow", () => {
  it("enqueue a step unblocked by siblings finishing at the same moment exactly once", async () => {
    const idle = await startTestNode({ extraFunctions, env, worker: false });
    try {
      const id = await start(idle, {
        steps: [
          { id: "a", function: "wf-add", input: { a: 1, b: 0 } },
          { id: "b", function: "wf-add", input: { a: 2, b: 0 } },
          {
            id: "join",
            function: "wf-add",
            dependsOn: ["a", "b"],
            input: { a: { $ref: "steps.a.output.sum" }, b: { $ref: "steps.b.output.sum" } },
          },
        ],
      });
      const client = idle.platform.database.client;
      const view = await idle.platform.workflows.get(id);
      // Both siblings finish "elsewhere" at once: their rows are final, their jobs gone.
      for (const [s, sum] of [
        ["a", 1],
        ["b", 2],
      ] as const) {
        const inv = step(view, s).invocationId!;
        await client.execute({
          sql: "UPDATE invocations SET status='succeeded', attempt=1, output=?, started_at=?, finished_at=? WHERE id=?",
          args: [JSON.stringify({ sum }), Date.now(), Date.now(), inv],
        });
        await client.execute({ sql: "DELETE FROM jobs WHERE id=?", args: [inv] });
      }
      // A second engine on the same database stands in for a worker process.
      const other = createWorkflowEngine({
        db: idle.platform.database.db,
        invoker: idle.platform.invoker,
        catalogue: idle.platform.catalogue,
        log: silentLogger,
      });
      const event = (s: string) => ({
        id: step(view, s).invocationId!,
        function: "wf-add",
        trigger: "workflow" as const,
        principal: { id: "x", role: "admin" as const, via: "system" as const },
        status: "succeeded",
        durationMs: 1,
      });
      await Promise.all([
        idle.platform.workflows.onInvocationFinished(event("a")),
        other.onInvocationFinished(event("b")),
        other.onInvocationFinished(event("a")),
        idle.platform.workflows.onInvocationFinished(event("b")),
      ]);
      const jobs = await client.execute("SELECT payload FROM jobs");
      expect(jobs.rows).toHaveLength(1);
      expect(JSON.parse(String(jobs.rows[0]!.payload))).toMatchObject({
        function: "wf-add",
        input: { a: 1, b: 2 },
        idempotencyKey: `wf:${id}:join`,
      });
      expect(step(await idle.platform.workflows.get(id), "join").status).toBe("queued");
    } finally {
      await idle.dispose();
    }
  });
});

describe("surviving a restart", () => {
  const dirs: string[] = [];
  const freshDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "sutazai-wf-"));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("a workflow started on a node that shuts down mid-way completes on the next one", async () => {
    const dataDir = freshDir();
    const first = await startTestNode({ extraFunctions, env, dataDir });
    const id = await start(first, {
      steps: [
        { id: "one", function: "wf-slow", input: { tag: "restart-one", ms: 150 } },
        { id: "two", function: "wf-slow", dependsOn: ["one"], input: { tag: "restart-two", ms: 150 } },
        { id: "three", function: "wf-add", dependsOn: ["two"], input: { a: 1, b: 1 } },
      ],
    });
    while (!events.some((e) => e.tag === "restart-one")) await new Promise((r) => setTimeout(r, 5));
    await first.dispose(); // mid-way: "one" finishes within the shutdown grace; "two" is left queued, "three" pending
    expect(events.some((e) => e.tag === "restart-two")).toBe(false);
    const second = await startTestNode({ extraFunctions, env, dataDir });
    try {
      const view = await finish(second, id);
      expect(view.status).toBe("succeeded");
      expect(step(view, "three").output).toEqual({ sum: 2 });
    } finally {
      await second.dispose();
    }
  });

  it("recover() reads results recorded while no engine listened and enqueues claimed-but-not-enqueued steps", async () => {
    const dataDir = freshDir();
    const first = await startTestNode({ extraFunctions, env, dataDir, worker: false });
    const finishedWhileDown = await start(first, {
      steps: [
        { id: "done", function: "wf-add", input: { a: 20, b: 1 } },
        {
          id: "next",
          function: "wf-double",
          dependsOn: ["done"],
          input: { n: { $ref: "steps.done.output.sum" } },
        },
      ],
    });
    const crashedAfterClaim = await start(first, {
      steps: [{ id: "lost", function: "wf-add", input: { a: 5, b: 5 } }],
    });
    const client = first.platform.database.client;
    const done = step(await first.platform.workflows.get(finishedWhileDown), "done").invocationId!;
    await client.execute({
      sql: "UPDATE invocations SET status='succeeded', attempt=1, output='{\"sum\":21}', started_at=?, finished_at=? WHERE id=?",
      args: [Date.now(), Date.now(), done],
    });
    const lost = step(await first.platform.workflows.get(crashedAfterClaim), "lost").invocationId!;
    await client.execute({ sql: "DELETE FROM invocations WHERE id=?", args: [lost] });
    await client.execute({
      sql: "UPDATE workflow_steps SET invocation_id=NULL WHERE invocation_id=?",
      args: [lost],
    });
    await client.execute("DELETE FROM jobs");
    await first.dispose();

    const second = await startTestNode({ extraFunctions, env, dataDir });
    try {
      const a = await finish(second, finishedWhileDown);
      expect(a.status).toBe("succeeded");
      expect(step(a, "done").output).toEqual({ sum: 21 });
      expect(step(a, "next").output).toEqual({ n: 42 });
      const b = await finish(second, crashedAfterClaim);
      expect(b.status).toBe("succeeded");
      expect(step(b, "lost").output).toEqual({ sum: 10 });
    } finally {
      await second.dispose();
    }
  });
});
