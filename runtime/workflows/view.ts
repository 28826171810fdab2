import type { WorkflowRow } from "../../schema/index.ts";
import { ENDED_INVOCATION } from "./scheduler.ts";
import type { StepStatus, WorkflowStatus } from "./spec.ts";
import { IN_FLIGHT_STEP, TERMINAL_STEP, TERMINAL_WORKFLOW } from "./spec.ts";
import type { StepWithInvocation } from "./store.ts";
import type { WorkflowStepView, WorkflowView } from "./types.ts";

const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();
const parse = (json: string | null) => (json === null ? null : JSON.parse(json));

/**
 * The public shape of a workflow. A step's row is only written when it is claimed and when
 * it ends; between the two, its invocation row is the live truth (running, attempt n), so
 * the view overlays it rather than writing every transition twice.
 */
export function presentWorkflow(workflow: WorkflowRow, rows: StepWithInvocation[]): WorkflowView {
  return {
    id: workflow.id,
    status: workflow.status as WorkflowStatus,
    onFailure: workflow.onFailure as "stop" | "continue",
    principal: (JSON.parse(workflow.principal) as { id: string }).id,
    error: parse(workflow.error),
    createdAt: iso(workflow.createdAt)!,
    startedAt: iso(workflow.startedAt),
    finishedAt: iso(workflow.finishedAt),
    steps: rows.map(presentStep),
  };
}

function presentStep({ step, invocation }: StepWithInvocation): WorkflowStepView {
  const ended = TERMINAL_STEP.includes(step.status as StepStatus);
  const live = !ended && invocation?.status === "running";
  const startedAt = step.startedAt ?? (ended ? null : invocation?.startedAt);
  const view: WorkflowStepView = {
    id: step.stepId,
    function: step.function,
    dependsOn: JSON.parse(step.dependsOn) as string[],
    status: live ? "running" : (step.status as StepStatus),
    invocationId: step.invocationId,
    attempts: ended ? step.attempts : (invocation?.attempt ?? 0),
    error: parse(step.error),
    queuedAt: iso(step.queuedAt),
    startedAt: iso(startedAt),
    finishedAt: iso(step.finishedAt),
    durationMs: step.finishedAt !== null && startedAt ? step.finishedAt - startedAt : null,
  };
  if (step.output !== null) view.output = JSON.parse(step.output);
  return view;
}

/** Ended, and no step invocation still running: nothing about it will change any more. */
export const isSettled = (view: WorkflowView): boolean =>
  TERMINAL_WORKFLOW.includes(view.status) && !view.steps.some((s) => IN_FLIGHT_STEP.includes(s.status));

/** Steps whose invocation ended but whose result was not recorded (a missed or failed hook). */
export const needsReconcile = (rows: StepWithInvocation[]): boolean =>
  rows.some(
    (r) =>
      IN_FLIGHT_STEP.includes(r.step.status as StepStatus) &&
      ENDED_INVOCATION.includes(r.invocation?.status ?? ""),
  );
