import { AppError } from "../../runtime/errors.ts";
import { defineFunction, type FunctionContext } from "../../runtime/function.ts";
import { explain } from "./explain.ts";
import { measure } from "./measure.ts";
import { recommend } from "./policy.ts";
import {
  type ResourceOptimizerInput,
  type ResourceOptimizerOutput,
  resourceOptimizerInput,
  resourceOptimizerOutput,
} from "./schema.ts";

export type { FunctionMetrics, NodeMetrics } from "./metrics.ts";
export { recommend, THRESHOLDS } from "./policy.ts";
export { resourceOptimizerInput, resourceOptimizerOutput } from "./schema.ts";

/** Functions that spend their time in the LLM. Manifests do not say so (yet). */
export const LLM_HEAVY_FUNCTIONS = ["code-assistant", "task-coordinator"];

/**
 * Measures the node and recommends per-function concurrency limits, a model per LLM-heavy
 * function and where LLM-heavy work should run, each with the numbers behind it. Example:
 *
 *   {"explain": true}            recommendations (+ the LLM's plain-language explanation)
 *   {"apply": true}              admin: also set the recommended concurrency limits
 */
export const resourceOptimizer = defineFunction({
  name: "resource-optimizer",
  description:
    "Measures the node (CPU load, memory, queue depth, p50/p95 latency per function, loaded models) and recommends per-function concurrency limits, a model for each LLM-heavy function and whether LLM-heavy work should run on the server, each with the numbers and a reason. apply: true (admin) sets the concurrency limits; explain: true adds a plain-language explanation when an LLM is available.",
  input: resourceOptimizerInput,
  output: resourceOptimizerOutput,
  // Node internals (load, memory, per-function latency) are operations data.
  permission: "metrics:read",
  timeoutMs: 60_000,
  retries: 0,
  handler: optimize,
});

async function optimize(
  input: ResourceOptimizerInput,
  ctx: FunctionContext,
): Promise<ResourceOptimizerOutput> {
  if (input.apply && ctx.principal.role !== "admin") {
    throw new AppError(
      403,
      "FORBIDDEN",
      "apply: true changes how this node serves everyone and needs an admin credential; leave it out to get the recommendations.",
    );
  }
  if (input.apply && !ctx.limits) {
    throw new AppError(
      503,
      "LIMITS_UNAVAILABLE",
      "This node does not let functions set concurrency limits; apply them in its configuration.",
    );
  }
  const llmHeavy = new Set([...LLM_HEAVY_FUNCTIONS, ...(input.llmFunctions ?? [])]);
  const metrics = await measure(ctx, input.windowMs, llmHeavy);
  const recommendations = recommend(metrics);
  const out: ResourceOptimizerOutput = { metrics: { ...metrics }, recommendations };
  if (input.apply && ctx.limits) {
    out.applied = recommendations.concurrency
      .filter((r) => r.change !== "keep")
      .map((r) => {
        ctx.limits!.set(r.function, r.recommended);
        return { function: r.function, from: r.current, to: r.recommended };
      });
    ctx.log.info("concurrency limits applied", { changed: out.applied.length });
  }
  if (input.explain) Object.assign(out, await explain(ctx, recommendations, input.model));
  return out;
}
