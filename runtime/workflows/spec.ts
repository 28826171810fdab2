import { z } from "zod";

/** Most steps one workflow may have: a plan bigger than this is a runaway planner, not a workflow. */
export const MAX_STEPS = 100;

// Step ids appear in `$ref` paths (dot-separated) and in the idempotency key
// `wf:<workflow>:<step>` (colon-separated), so neither character may occur in one.
const STEP_ID_RE = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export const StepSpecSchema = z.object({
  id: z
    .string()
    .regex(
      STEP_ID_RE,
      "A step id starts with a letter and holds only letters, digits, '_' and '-' (max 64).",
    ),
  function: z.string().min(1).max(100),
  /** the function's input; `{"$ref": "steps.<id>.output.<path>"}` anywhere in it is replaced at run time */
  input: z.unknown().optional(),
  dependsOn: z.array(z.string().max(64)).max(MAX_STEPS).optional(),
});

export const WorkflowSpecSchema = z.object({
  steps: z
    .array(StepSpecSchema)
    .min(1, "A workflow needs at least one step.")
    .max(MAX_STEPS, `A workflow has at most ${MAX_STEPS} steps.`),
  /** stop: the first failed step fails the workflow and cancels what has not started; continue: only its dependents are skipped */
  onFailure: z.enum(["stop", "continue"]).optional(),
});

/** What a caller submits (POST /v1/workflows, ctx.workflows.start). */
export type WorkflowSpec = z.input<typeof WorkflowSpecSchema>;
export type StepSpec = z.input<typeof StepSpecSchema>;

/** A spec after validation: defaults filled in. */
export interface ValidStep {
  id: string;
  function: string;
  input: unknown;
  dependsOn: string[];
}
export interface ValidWorkflow {
  steps: ValidStep[];
  onFailure: "stop" | "continue";
}

export type WorkflowStatus = "pending" | "running" | "succeeded" | "failed" | "cancelled";
export type StepStatus = "pending" | "queued" | "running" | "succeeded" | "failed" | "skipped" | "cancelled";

export const TERMINAL_WORKFLOW: readonly WorkflowStatus[] = ["succeeded", "failed", "cancelled"];
export const TERMINAL_STEP: readonly StepStatus[] = ["succeeded", "failed", "skipped", "cancelled"];
/** steps whose invocation may still run: a workflow is settled once none is left */
export const IN_FLIGHT_STEP: readonly StepStatus[] = ["queued", "running"];
