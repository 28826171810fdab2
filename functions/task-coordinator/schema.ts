import { z } from "zod";

export const DEFAULT_MAX_STEPS = 8;
/** However much a caller asks for: a longer plan from a model is a runaway, not a plan. */
export const HARD_MAX_STEPS = 20;

export const taskCoordinatorInput = z.strictObject({
  goal: z.string().min(1).max(8_000).describe("what to achieve, in plain words"),
  dryRun: z.boolean().default(false).describe("true: return the validated plan without running it"),
  maxSteps: z
    .number()
    .int()
    .min(1)
    .max(HARD_MAX_STEPS)
    .default(DEFAULT_MAX_STEPS)
    .describe(`most steps the plan may have (default ${DEFAULT_MAX_STEPS}, at most ${HARD_MAX_STEPS})`),
  functions: z
    .array(z.string().min(1).max(100))
    .min(1)
    .max(100)
    .optional()
    .describe("plan only with these functions (still only those you may invoke)"),
  onFailure: z
    .enum(["stop", "continue"])
    .default("stop")
    .describe("what the workflow does when a step fails"),
  model: z.string().min(1).max(200).optional().describe("model to plan with; default: the node's"),
});
export type TaskCoordinatorInput = z.output<typeof taskCoordinatorInput>;

export const planStepSchema = z.object({
  id: z.string(),
  function: z.string(),
  input: z.record(z.string(), z.unknown()),
  dependsOn: z.array(z.string()),
});
export const planSchema = z.object({ steps: z.array(planStepSchema) });
export type Plan = z.output<typeof planSchema>;
export type PlanStep = z.output<typeof planStepSchema>;

const stepResult = z.object({
  id: z.string(),
  function: z.string(),
  status: z.string(),
  output: z.unknown().optional(),
  error: z.object({ code: z.string(), message: z.string() }).nullable().optional(),
  durationMs: z.number().nullable().optional(),
});

export const taskCoordinatorOutput = z.object({
  goal: z.string(),
  /** planned (dryRun), the workflow's final status, or running if it outlived the wait */
  status: z.enum(["planned", "running", "pending", "succeeded", "failed", "cancelled"]),
  model: z.string(),
  /** 1, or 2 when the first plan was invalid and the model was asked again */
  planAttempts: z.number().int(),
  plan: planSchema,
  workflowId: z.string().optional(),
  steps: z.array(stepResult).optional(),
});
export type TaskCoordinatorOutput = z.input<typeof taskCoordinatorOutput>;
