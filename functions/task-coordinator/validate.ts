import type { z } from "zod";
import { type FieldError, fieldErrors } from "../../runtime/errors.ts";
import { ancestors, findCycle } from "../../runtime/workflows/dag.ts";
import { findRefs, RefError } from "../../runtime/workflows/refs.ts";
import type { ToolRules } from "./catalogue.ts";
import { type Plan, planSchema } from "./schema.ts";

// The workflow engine's rule (runtime/workflows/spec.ts): ids appear in `$ref` paths.
const STEP_ID_RE = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/**
 * Every problem of a proposed plan, as `{path, message}` a model can act on when it is
 * asked again (and a caller can read when the plan is refused). Empty means valid. Pure:
 * the rules carry the catalogue and the caller's permissions.
 *
 * Checks: shape; 1..maxSteps steps; step ids valid and unique; each function known,
 * permitted, offered and not the coordinator itself; dependencies exist, no cycles; `$ref`s
 * well-formed and only to (indirect) dependencies; each input against the function's own
 * input schema, except at the places a `$ref` fills in at run time.
 */
export function validatePlan(proposed: unknown, rules: ToolRules, maxSteps: number): FieldError[] {
  const parsed = planSchema.safeParse(proposed);
  if (!parsed.success) return fieldErrors(parsed.error.issues);
  const plan: Plan = parsed.data;
  const errors: FieldError[] = [];
  if (plan.steps.length === 0) errors.push({ path: "steps", message: "the plan has no steps" });
  if (plan.steps.length > maxSteps) {
    errors.push({
      path: "steps",
      message: `the plan has ${plan.steps.length} steps; at most ${maxSteps} are allowed`,
    });
  }
  const ids = new Set<string>();
  const deps = new Map<string, string[]>();
  plan.steps.forEach((step, i) => {
    const at = STEP_ID_RE.test(step.id) && !ids.has(step.id) ? `steps.${step.id}` : `steps.${i}`;
    if (!STEP_ID_RE.test(step.id))
      errors.push({
        path: `${at}.id`,
        message: "must start with a letter and hold only letters, digits, _ and - (max 64)",
      });
    else if (ids.has(step.id))
      errors.push({
        path: `${at}.id`,
        message: `"${step.id}" is used by an earlier step; ids must be unique`,
      });
    ids.add(step.id);
    deps.set(step.id, step.dependsOn);
  });
  const tools = new Map(rules.tools.map((t) => [t.name, t]));
  const offered = rules.tools.map((t) => t.name).join(", ") || "(none)";
  for (const step of plan.steps) {
    const at = `steps.${step.id}`;
    const tool = tools.get(step.function);
    if (!tool)
      errors.push({ path: `${at}.function`, message: whyUnavailable(step.function, rules, offered) });
    for (const dep of step.dependsOn) {
      if (dep === step.id)
        errors.push({ path: `${at}.dependsOn`, message: "a step cannot depend on itself" });
      else if (!ids.has(dep))
        errors.push({ path: `${at}.dependsOn`, message: `"${dep}" is not a step of this plan` });
    }
    const refs = refsIn(step.input, at, errors);
    const before = ancestors(step.id, deps);
    for (const ref of refs) {
      if (ref.problem) errors.push({ path: `${at}.${ref.at}`, message: ref.problem });
      else if (!before.has(ref.stepId!)) {
        errors.push({
          path: `${at}.${ref.at}`,
          message: `reads step "${ref.stepId}", which this step does not depend on: add it to dependsOn`,
        });
      }
    }
    if (tool)
      errors.push(
        ...inputErrors(
          tool.input,
          step.input,
          refs.map((r) => r.at),
          at,
          tool.name,
        ),
      );
  }
  const cycle = findCycle(deps);
  if (cycle)
    errors.push({
      path: `steps.${cycle[0]}.dependsOn`,
      message: `steps ${cycle.join(" → ")} depend on each other in a cycle`,
    });
  return errors;
}

function whyUnavailable(name: string, rules: ToolRules, offered: string): string {
  if (name === rules.self) return `"${name}" cannot be a step of its own plan; use one of: ${offered}`;
  if (!rules.known.has(name)) return `unknown function "${name}"; use one of: ${offered}`;
  if (!rules.permitted(name)) return `your credential may not invoke "${name}"; use one of: ${offered}`;
  return `"${name}" is not among the functions this plan may use: ${offered}`;
}

function refsIn(input: unknown, at: string, errors: FieldError[]) {
  try {
    return findRefs(input);
  } catch (err) {
    if (!(err instanceof RefError)) throw err;
    errors.push({ path: `${at}.input`, message: err.message });
    return [];
  }
}

/**
 * The input against the function's zod schema. A `$ref` stands where a value of the right
 * type will be at run time, so issues at or below a `$ref`'s place are not the plan's fault
 * (the engine checks the resolved input when the step runs).
 */
function inputErrors(
  schema: z.ZodType,
  input: unknown,
  refPlaces: string[],
  at: string,
  fn: string,
): FieldError[] {
  const checked = schema.safeParse(input);
  if (checked.success) return [];
  return checked.error.issues
    .map((issue) => ({ path: ["input", ...issue.path.map(String)].join("."), message: issue.message }))
    .filter(({ path }) => !refPlaces.some((place) => path === place || path.startsWith(`${place}.`)))
    .map(({ path, message }) => ({ path: `${at}.${path}`, message: `${message} (input schema of "${fn}")` }));
}
