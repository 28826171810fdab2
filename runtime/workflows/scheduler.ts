import { eq } from "drizzle-orm";
import { invocations, type WorkflowRow, type WorkflowStepRow } from "../../schema/index.ts";
import type { Principal } from "../auth/principal.ts";
import type { Db } from "../db.ts";
import { AppError, serializeError } from "../errors.ts";
import type { Invoker } from "../invoke.ts";
import type { Logger } from "../log.ts";
import { RefError, resolveRefs } from "./refs.ts";
import { MAX_STEPS, type StepStatus, TERMINAL_STEP, TERMINAL_WORKFLOW, type WorkflowStatus } from "./spec.ts";
import type { WorkflowStore } from "./store.ts";

export type StepInvoker = Pick<Invoker, "enqueue" | "cancel">;

export interface SchedulerDeps {
  db: Db;
  store: WorkflowStore;
  invoker: StepInvoker;
  log: Logger;
  /** wakes in-process waiters of a workflow */
  notify(id: string): void;
}

/** invocation statuses after which nothing more happens to it */
export const ENDED_INVOCATION: readonly string[] = ["succeeded", "failed", "dead", "cancelled"];
/** a pending step with a dependency in one of these will never run */
const BLOCKING: readonly string[] = ["failed", "skipped", "cancelled"];
const KEY_RE = /^wf:([0-9a-f-]{36}):([A-Za-z][A-Za-z0-9_-]{0,63})$/;

/** The idempotency key of a step's invocation: enqueued once per step, even across a crash. */
export const stepKey = (workflowId: string, stepId: string) => `wf:${workflowId}:${stepId}`;

/**
 * Moves workflows forward. Stateless: everything is re-read from the database and every
 * change is a conditional statement (store.ts), so any process may call any of these at
 * any time, concurrently with others, and the outcome is the same.
 */
export function createScheduler(deps: SchedulerDeps) {
  const { store, invoker, log } = deps;

  /** Skips what can no longer run, starts what became ready, and ends the workflow when all steps ended. */
  async function advance(id: string): Promise<void> {
    // Each round reacts to what the previous one changed: a step that failed to start. Every
    // such round ends at least one step for good, so MAX_STEPS + 1 rounds always suffice.
    for (let round = 0; round <= MAX_STEPS + 1; round++) {
      const loaded = await store.load(id);
      if (loaded?.workflow.status !== "running") {
        deps.notify(id);
        return;
      }
      const { workflow, steps } = loaded;
      const now = Date.now();
      const unsuccessful = steps.filter((s) => s.status === "failed" || s.status === "cancelled");
      if (unsuccessful.length > 0 && workflow.onFailure === "stop") {
        const first = unsuccessful[0]!;
        const reason = first.error ? (JSON.parse(first.error) as { message?: string }).message : first.status;
        return stop(id, "failed", {
          code: "WORKFLOW_STEP_FAILED",
          message: `Step "${first.stepId}" ${first.status}: ${reason}`,
        });
      }
      const status = new Map(steps.map((s) => [s.stepId, s.status]));
      const skipped = skippable(steps, status);
      await store.skip(id, skipped, now);
      const ready = steps.filter(
        (s) => status.get(s.stepId) === "pending" && depsOf(s).every((d) => status.get(d) === "succeeded"),
      );
      const outputs = new Map(
        steps.filter((s) => s.status === "succeeded").map((s) => [s.stepId, JSON.parse(s.output ?? "null")]),
      );
      const launched = await Promise.all(
        ready.map(async (s) => (await store.claim(id, s.stepId, now)) && launch(workflow, s, outputs)),
      );
      if (launched.includes("ended")) continue;
      if ([...status.values()].every((s) => TERMINAL_STEP.includes(s as StepStatus))) {
        const bad = steps.filter((s) => status.get(s.stepId) !== "succeeded");
        const error = bad.length
          ? {
              code: "WORKFLOW_STEP_FAILED",
              message: `${bad.length} step(s) did not succeed: ${bad.map((s) => `"${s.stepId}" (${status.get(s.stepId)})`).join(", ")}.`,
            }
          : undefined;
        await store.finishWorkflow(id, bad.length ? "failed" : "succeeded", now, error);
        deps.notify(id);
      }
      return;
    }
  }

  /**
   * Enqueues a claimed step with its `$ref`s resolved. "ended" when the step could not
   * start and failed right away (missing ref path, input refused by the invoker).
   */
  async function launch(
    workflow: WorkflowRow,
    step: WorkflowStepRow,
    outputs: Map<string, unknown>,
  ): Promise<"enqueued" | "ended" | "later"> {
    const fail = async (error: { code: string; message: string; status?: number }) => {
      await store.finishStep(workflow.id, step.stepId, {
        status: "failed",
        error: JSON.stringify(error),
        finishedAt: Date.now(),
      });
      return "ended" as const;
    };
    let input: unknown;
    try {
      input = resolveRefs(JSON.parse(step.input), outputs);
    } catch (e) {
      if (e instanceof RefError)
        return fail({ code: "WORKFLOW_REF_MISSING", message: e.message, status: 422 });
      throw e;
    }
    try {
      const { id: invocationId } = await invoker.enqueue({
        function: step.function,
        input,
        principal: JSON.parse(workflow.principal) as Principal,
        trigger: "workflow",
        idempotencyKey: stepKey(workflow.id, step.stepId),
      });
      // The workflow may have been cancelled between claim and enqueue (halt() cancels
      // claimed steps that have no invocation yet): withdraw the invocation just made.
      if ((await store.recordInvocation(workflow.id, step.stepId, invocationId)) === "cancelled") {
        await invoker.cancel(invocationId).catch(() => {});
      }
      return "enqueued";
    } catch (e) {
      // 4xx: the step's input or the caller's rights are wrong now — retrying will not help.
      if (e instanceof AppError && e.status < 500) return fail(serializeError(e));
      // Anything else (database busy, queue down): the step stays claimed without an
      // invocation, and reconcile() enqueues it again under the same idempotency key.
      log.error("workflow step could not be enqueued; it will be retried at recovery", {
        workflow: workflow.id,
        step: step.stepId,
        error: String(e),
      });
      return "later";
    }
  }

  /** Ends the workflow as `status`, then stops what has not started. */
  async function stop(
    id: string,
    status: WorkflowStatus,
    error: { code: string; message: string },
  ): Promise<void> {
    await store.finishWorkflow(id, status, Date.now(), error);
    await halt(id);
    deps.notify(id);
  }

  /** Cancels pending steps and withdraws queued invocations; running ones are left to finish. */
  async function halt(id: string): Promise<void> {
    await store.cancelUnstarted(id, Date.now());
    const loaded = await store.load(id);
    for (const step of loaded?.steps ?? []) {
      if (step.status !== "queued" || !step.invocationId) continue;
      try {
        await invoker.cancel(step.invocationId);
        await store.finishStep(id, step.stepId, { status: "cancelled", finishedAt: Date.now() });
      } catch {
        // 409: it started meanwhile; its result is recorded when it finishes.
      }
    }
  }

  /** Records the outcome of a step invocation that ended; then advances its workflow. */
  async function completeFromInvocation(
    invocationId: string,
    opts: { advance?: boolean } = {},
  ): Promise<void> {
    const row = await deps.db.query.invocations.findFirst({ where: eq(invocations.id, invocationId) });
    // The key, not workflow_steps.invocation_id, finds the step: a fast worker can finish
    // the invocation before the enqueuing process recorded its id on the step.
    const key = KEY_RE.exec(row?.idempotencyKey ?? "");
    if (!row || !key || !ENDED_INVOCATION.includes(row.status)) return;
    const [, workflowId, stepId] = key as unknown as [string, string, string];
    const status: StepStatus =
      row.status === "succeeded" ? "succeeded" : row.status === "cancelled" ? "cancelled" : "failed";
    await store.finishStep(workflowId, stepId, {
      status,
      invocationId: row.id,
      output: status === "succeeded" ? row.output : null,
      error:
        status === "succeeded"
          ? null
          : (row.error ??
            JSON.stringify({ code: "CANCELLED", message: "The step's invocation was cancelled." })),
      attempts: row.attempt,
      startedAt: row.startedAt,
      finishedAt: row.finishedAt ?? Date.now(),
    });
    if (opts.advance !== false) await advance(workflowId);
  }

  /**
   * Catches a workflow up with its invocations: results nobody recorded (the node was down
   * or the hook failed), and — with `enqueue` — claimed steps that never got an invocation
   * (a crash between claim and enqueue; the idempotency key makes this safe to repeat).
   */
  async function reconcile(id: string, opts: { enqueue: boolean }): Promise<void> {
    if (opts.enqueue) await store.markRunning(id, Date.now()); // created, then the process died before it started
    const rows = await store.stepsWithInvocations(id);
    for (const { step, invocation } of rows) {
      if (step.status !== "queued" && step.status !== "running") continue;
      if (step.invocationId && invocation && ENDED_INVOCATION.includes(invocation.status)) {
        await completeFromInvocation(step.invocationId, { advance: false });
      }
    }
    const loaded = await store.load(id);
    if (opts.enqueue && loaded && !TERMINAL_WORKFLOW.includes(loaded.workflow.status as WorkflowStatus)) {
      const outputs = new Map(
        loaded.steps
          .filter((s) => s.status === "succeeded")
          .map((s) => [s.stepId, JSON.parse(s.output ?? "null")]),
      );
      for (const step of loaded.steps) {
        if (step.status === "queued" && !step.invocationId) await launch(loaded.workflow, step, outputs);
      }
    }
    await advance(id);
  }

  return { advance, stop, halt, completeFromInvocation, reconcile };
}

export type Scheduler = ReturnType<typeof createScheduler>;

const depsOf = (step: WorkflowStepRow): string[] => JSON.parse(step.dependsOn) as string[];

/** Pending steps behind a failed, skipped or cancelled step — transitively, updating `status`. */
function skippable(steps: WorkflowStepRow[], status: Map<string, string>): string[] {
  const out: string[] = [];
  for (let changed = true; changed; ) {
    changed = false;
    for (const s of steps) {
      if (
        status.get(s.stepId) !== "pending" ||
        !depsOf(s).some((d) => BLOCKING.includes(status.get(d) ?? ""))
      )
        continue;
      status.set(s.stepId, "skipped");
      out.push(s.stepId);
      changed = true;
    }
  }
  return out;
}
