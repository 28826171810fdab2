import { AppError } from "../../runtime/errors.ts";
import type { FunctionContext } from "../../runtime/function.ts";
import type { WorkflowView } from "../../runtime/workflows/types.ts";
import type { Plan, TaskCoordinatorOutput } from "./schema.ts";

type Summary = Pick<TaskCoordinatorOutput, "status" | "workflowId" | "steps">;

/**
 * Runs a validated plan as a workflow and waits for it until `deadline`. A workflow that
 * outlives the wait keeps running: the summary says `running` and names the workflow, so
 * the caller follows it on GET /v1/workflows/:id instead of the work being thrown away.
 */
export async function runPlan(
  ctx: FunctionContext,
  plan: Plan,
  onFailure: "stop" | "continue",
  deadline: number,
): Promise<Summary> {
  const workflows = ctx.workflows;
  if (!workflows)
    throw new AppError(
      503,
      "WORKFLOWS_UNAVAILABLE",
      "This node runs no workflows for functions; use dryRun: true.",
    );
  const { id } = await workflows.start({ steps: plan.steps, onFailure });
  await ctx.progress({ phase: "running", workflowId: id });
  let view: WorkflowView;
  try {
    view = await workflows.wait(id, { signal: ctx.signal, timeoutMs: Math.max(1, deadline - Date.now()) });
  } catch (err) {
    if (!(err instanceof AppError && err.code === "WORKFLOW_WAIT_TIMEOUT")) throw err;
    view = await workflows.get(id);
  }
  return summarize(view);
}

export function summarize(view: WorkflowView): Summary {
  return {
    status: view.status,
    workflowId: view.id,
    steps: view.steps.map((s) => ({
      id: s.id,
      function: s.function,
      status: s.status,
      ...(s.output !== undefined ? { output: s.output } : {}),
      error: s.error ? { code: s.error.code, message: s.error.message } : null,
      durationMs: s.durationMs,
    })),
  };
}
