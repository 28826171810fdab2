import type { Principal } from "../auth/principal.ts";
import type { Catalogue } from "../catalogue.ts";
import type { Db } from "../db.ts";
import { AppError } from "../errors.ts";
import { uuidv7 } from "../ids.ts";
import type { FinishedInvocation } from "../invoke.ts";
import type { Logger } from "../log.ts";
import { createScheduler, ENDED_INVOCATION, type StepInvoker } from "./scheduler.ts";
import { WorkflowStore } from "./store.ts";
import type { WaitOptions, WorkflowEngine, WorkflowView } from "./types.ts";
import { validate } from "./validate.ts";
import { isSettled, needsReconcile, presentWorkflow } from "./view.ts";
import { Waiters } from "./waiters.ts";

export interface WorkflowEngineDeps {
  db: Db;
  invoker: StepInvoker;
  catalogue: Catalogue;
  log: Logger;
  /** how often wait() re-reads a workflow that other processes may be advancing; default 100 ms */
  pollMs?: number;
}

/**
 * Runs workflows: DAGs of steps, each an async invocation on the node's queue (so
 * independent steps run in parallel, and each step gets the function's retries). All
 * state is in the database; the invoker's onFinished hook drives progress, and recover()
 * at start-up catches up with whatever happened while no process was listening.
 *
 * @example
 *   const { id } = await engine.start({ steps: [
 *     { id: "plan", function: "planner", input: { goal: "…" } },
 *     { id: "run", function: "worker", dependsOn: ["plan"], input: { items: { $ref: "steps.plan.output.items" } } },
 *   ] }, principal);
 *   const final = await engine.wait(id, { timeoutMs: 60_000 });
 */
export function createWorkflowEngine(deps: WorkflowEngineDeps): WorkflowEngine {
  const store = new WorkflowStore(deps.db);
  const waiters = new Waiters();
  const log = deps.log.child({ component: "workflows" });
  const scheduler = createScheduler({
    db: deps.db,
    store,
    invoker: deps.invoker,
    log,
    notify: (id) => waiters.notify(id),
  });
  const pollMs = deps.pollMs ?? 100;
  let closed = false;

  async function get(id: string, heal = true): Promise<WorkflowView> {
    const loaded = await store.load(id);
    if (!loaded) throw new AppError(404, "WORKFLOW_NOT_FOUND", `No workflow with id "${id.slice(0, 80)}".`);
    const rows = await store.stepsWithInvocations(id);
    if (heal && needsReconcile(rows)) {
      // An invocation ended but its step did not notice (the hook failed, or the invocation
      // was cancelled directly): heal on read instead of showing a step stuck forever.
      await scheduler.reconcile(id, { enqueue: false });
      return get(id, false);
    }
    return presentWorkflow(loaded.workflow, rows);
  }

  return {
    async start(spec: unknown, principal: Principal) {
      const valid = validate(spec, principal, deps.catalogue);
      const id = uuidv7();
      const now = Date.now();
      await store.create(id, valid, principal, now);
      await store.markRunning(id, now);
      await scheduler.advance(id);
      return { id };
    },

    get: (id: string) => get(id),

    async cancel(id: string) {
      const current = await get(id);
      if (current.status === "succeeded" || current.status === "failed") {
        throw new AppError(409, "WORKFLOW_NOT_CANCELLABLE", `Workflow ${id} already ${current.status}.`);
      }
      await scheduler.stop(id, "cancelled", { code: "CANCELLED", message: "The workflow was cancelled." });
      const after = await get(id);
      // Lost a race with the last step finishing: it ended on its own.
      if (after.status !== "cancelled")
        throw new AppError(409, "WORKFLOW_NOT_CANCELLABLE", `Workflow ${id} already ${after.status}.`);
      return after;
    },

    async wait(id: string, opts: WaitOptions = {}) {
      const deadline = opts.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + opts.timeoutMs;
      for (;;) {
        if (closed)
          throw new AppError(
            503,
            "SHUTTING_DOWN",
            "The node is shutting down; ask for the workflow again later.",
          );
        const view = await get(id);
        if (isSettled(view)) return view;
        if (opts.signal?.aborted)
          throw new AppError(499, "CANCELLED", `Stopped waiting for workflow ${id}; it goes on.`);
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new AppError(
            504,
            "WORKFLOW_WAIT_TIMEOUT",
            `Workflow ${id} is still ${view.status} after ${opts.timeoutMs} ms; it goes on.`,
          );
        }
        await waiters.until(id, Math.min(left, pollMs), opts.signal);
      }
    },

    async onInvocationFinished(event: FinishedInvocation) {
      if (event.trigger !== "workflow" || !ENDED_INVOCATION.includes(event.status)) return; // "queued" = a retry follows
      try {
        await scheduler.completeFromInvocation(event.id);
      } catch (err) {
        // Never throw into the invoker: it would count as a failure of the step's function.
        // The next GET, wait() or recover() reconciles from the invocation row.
        log.error("could not record a workflow step's result", { invocation: event.id, error: String(err) });
      }
    },

    async recover() {
      const ids = await store.unsettledIds();
      for (const id of ids) {
        try {
          await scheduler.reconcile(id, { enqueue: true });
        } catch (err) {
          log.error("could not recover a workflow", { workflow: id, error: String(err) });
        }
      }
      if (ids.length > 0) log.info("recovered workflows", { count: ids.length });
    },

    close() {
      closed = true;
      waiters.wakeAll();
    },
  };
}
