import type { z } from "zod";
import { AppError } from "../../runtime/errors.ts";
import type { FunctionContext } from "../../runtime/function.ts";

/** A function the planner may use: what the model is shown and what a step is checked against. */
export interface PlannerTool {
  name: string;
  description: string;
  inputSchema: unknown;
  input: z.ZodType;
}

/** What validation needs to know about functions the plan may NOT use, to say why. */
export interface ToolRules {
  tools: PlannerTool[];
  /** every function the node serves */
  known: ReadonlySet<string>;
  /** may the caller invoke it? */
  permitted(name: string): boolean;
  /** this function: a plan that runs the coordinator again could recurse without end */
  self: string;
  /** the caller's `functions` restriction, if any */
  only?: ReadonlySet<string>;
}

/**
 * The functions offered to the model: those the caller may invoke, minus the coordinator
 * itself, narrowed to `only` when the caller gave a list. A function the caller cannot
 * invoke is never even described to the model.
 */
export function plannerTools(ctx: FunctionContext, self: string, only?: string[]): ToolRules {
  if (!ctx.catalogue || !ctx.canInvoke) {
    throw new AppError(
      503,
      "CATALOGUE_UNAVAILABLE",
      "This node does not give functions its catalogue; the coordinator cannot plan here.",
    );
  }
  const canInvoke = ctx.canInvoke;
  const entries = ctx.catalogue();
  const onlySet = only ? new Set(only) : undefined;
  const tools = entries
    .filter((e) => e.name !== self && canInvoke(e.name) && (!onlySet || onlySet.has(e.name)))
    .map(({ name, description, inputSchema, input }) => ({ name, description, inputSchema, input }));
  return { tools, known: new Set(entries.map((e) => e.name)), permitted: canInvoke, self, only: onlySet };
}
