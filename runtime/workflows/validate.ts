import type { Principal } from "../auth/principal.ts";
import { canInvoke } from "../auth/rbac.ts";
import type { Catalogue } from "../catalogue.ts";
import { truncate } from "../catalogue.ts";
import { AppError, type FieldError } from "../errors.ts";
import { ancestors, findCycle } from "./dag.ts";
import { findRefs, RefError } from "./refs.ts";
import { type ValidWorkflow, WorkflowSpecSchema } from "./spec.ts";

/**
 * Checks a workflow before anything runs, so a bad plan fails as a whole with every
 * problem listed instead of half-running: shape, unique step ids, known and permitted
 * functions, dependencies on existing steps, no cycles, `$ref`s only to (indirect)
 * dependencies, and inputs without `$ref`s against the function's input schema.
 * Throws 422 WORKFLOW_INVALID with `errors: [{path: "steps.<id>", message}]`.
 *
 * @example validate({ steps: [{ id: "a", function: "echo", input: { message: "hi" } }] }, principal, catalogue)
 */
export function validate(spec: unknown, principal: Principal, catalogue: Catalogue): ValidWorkflow {
  const parsed = WorkflowSpecSchema.safeParse(spec);
  if (!parsed.success) {
    throw invalid(
      parsed.error.issues.map((issue) => ({ path: issuePath(spec, issue.path), message: issue.message })),
    );
  }
  const steps = parsed.data.steps.map((s) => ({
    id: s.id,
    function: s.function,
    input: s.input === undefined ? {} : s.input,
    dependsOn: [...new Set(s.dependsOn ?? [])],
  }));
  const errors: FieldError[] = [];
  const err = (id: string, message: string) => errors.push({ path: `steps.${id}`, message });

  const ids = new Set<string>();
  for (const step of steps) {
    if (ids.has(step.id)) err(step.id, `Step id "${step.id}" is used more than once; ids must be unique.`);
    ids.add(step.id);
  }
  const deps = new Map(steps.map((s) => [s.id, s.dependsOn]));

  for (const step of steps) {
    const fn = catalogue.get(step.function);
    if (!fn)
      err(
        step.id,
        `Unknown function "${truncate(step.function)}". GET /v1/functions lists the available ones.`,
      );
    else if (!canInvoke(principal, fn))
      err(step.id, `Your credential (role ${principal.role}) may not invoke "${fn.name}".`);
    for (const dep of step.dependsOn) {
      if (!ids.has(dep)) err(step.id, `Depends on "${truncate(dep)}", which is not a step of this workflow.`);
    }
    const refs = refsOf(step.input, (message) => err(step.id, message));
    const reachable = ancestors(step.id, deps);
    for (const ref of refs) {
      if (ref.problem) err(step.id, ref.problem);
      else if (!ids.has(ref.stepId!))
        err(
          step.id,
          `$ref "${truncate(ref.ref)}" at ${truncate(ref.at)} names step "${ref.stepId}", which does not exist.`,
        );
      else if (!reachable.has(ref.stepId!)) {
        err(
          step.id,
          `$ref "${truncate(ref.ref)}" at ${truncate(ref.at)} reads step "${ref.stepId}", which is not among its dependencies: add it to dependsOn.`,
        );
      }
    }
    // With no $ref the input is final now: check it now rather than after the steps before it ran.
    if (fn && refs.length === 0) {
      const checked = fn.input.safeParse(step.input);
      if (!checked.success) {
        const first = checked.error.issues[0]!;
        const where = first.path.length ? `input.${first.path.map(String).join(".")}: ` : "";
        err(step.id, `Input does not match the schema of "${fn.name}": ${where}${first.message}`);
      }
    }
  }

  const cycle = findCycle(deps);
  if (cycle)
    err(cycle[0]!, `Steps ${cycle.map((s) => `"${s}"`).join(" → ")} depend on each other in a cycle.`);

  if (errors.length > 0) throw invalid(errors);
  return { steps, onFailure: parsed.data.onFailure ?? "stop" };
}

function refsOf(input: unknown, onError: (message: string) => void) {
  try {
    return findRefs(input);
  } catch (e) {
    if (e instanceof RefError) {
      onError(e.message);
      return [];
    }
    throw e;
  }
}

function invalid(errors: FieldError[]): AppError {
  const named = errors
    .slice(0, 3)
    .map((e) => e.path)
    .join(", ");
  return new AppError(
    422,
    "WORKFLOW_INVALID",
    `The workflow is invalid (${named}${errors.length > 3 ? ", …" : ""}); nothing was run.`,
    {
      errors: errors.slice(0, 100),
    },
  );
}

/** `steps.2.function` → `steps.<id of step 2>.function` when that step has a usable id. */
function issuePath(spec: unknown, path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return "(root)";
  const parts = path.map(String);
  if (parts[0] === "steps" && typeof path[1] === "number") {
    const steps = (spec as { steps?: unknown[] }).steps;
    const id = (steps?.[path[1]] as { id?: unknown } | undefined)?.id;
    if (typeof id === "string" && id.length > 0 && id.length <= 64) parts[1] = id;
  }
  return parts.join(".");
}
