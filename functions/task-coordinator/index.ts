import { defineFunction, type FunctionContext } from "../../runtime/function.ts";
import { plannerTools } from "./catalogue.ts";
import { makePlan } from "./planner.ts";
import { runPlan } from "./run.ts";
import {
  type TaskCoordinatorInput,
  type TaskCoordinatorOutput,
  taskCoordinatorInput,
  taskCoordinatorOutput,
} from "./schema.ts";

export { planFormat } from "./plan-format.ts";
export { taskCoordinatorInput, taskCoordinatorOutput } from "./schema.ts";
export { validatePlan } from "./validate.ts";

const NAME = "task-coordinator";
const TIMEOUT_MS = 600_000;
/** Time kept back from the timeout to answer with a `running` summary instead of a 504. */
const ANSWER_MARGIN_MS = 5_000;

/**
 * Turns a goal into a plan of catalogue functions (asked of the LLM as structured output),
 * validates it against the catalogue, the input schemas and the caller's permissions, and
 * runs it as a workflow. Example:
 *
 *   {"goal": "Review this diff and explain the riskiest finding: ...", "maxSteps": 3}
 */
export const taskCoordinator = defineFunction({
  name: NAME,
  description:
    "Plans a goal in plain words as steps over the functions you may invoke (LLM, structured output), validates the plan (catalogue, input schemas, permissions, dependencies, at most maxSteps steps; an invalid plan is re-asked once, then refused with 422 PLAN_INVALID) and runs it as a workflow, answering with each step's result. dryRun: true returns the validated plan only.",
  input: taskCoordinatorInput,
  output: taskCoordinatorOutput,
  // It starts workflows: the callers who may run workflows may use it.
  permission: "workflows:run",
  timeoutMs: TIMEOUT_MS,
  // A retry would plan again and run every step again.
  retries: 0,
  // An async coordinator holds a queue worker slot while it waits for its steps, which need
  // slots too: capping coordinators below the worker concurrency (default 8) keeps some free.
  concurrency: 4,
  handler: coordinate,
});

async function coordinate(input: TaskCoordinatorInput, ctx: FunctionContext): Promise<TaskCoordinatorOutput> {
  const deadline = Date.now() + TIMEOUT_MS - ANSWER_MARGIN_MS;
  const rules = plannerTools(ctx, NAME, input.functions);
  const made = await makePlan(ctx, input, rules);
  const base = { goal: input.goal, model: made.model, planAttempts: made.attempts, plan: made.plan };
  if (input.dryRun) return { ...base, status: "planned" };
  return { ...base, ...(await runPlan(ctx, made.plan, input.onFailure, deadline)) };
}
