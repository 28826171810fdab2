import { z } from "zod";

export const DEFAULT_WINDOW_MS = 15 * 60 * 1000;

export const resourceOptimizerInput = z.strictObject({
  apply: z
    .boolean()
    .default(false)
    .describe("admin only: set the recommended concurrency limits on this node"),
  explain: z
    .boolean()
    .default(false)
    .describe("add a plain-language explanation by the LLM (skipped if it is unavailable)"),
  windowMs: z
    .number()
    .int()
    .min(60_000)
    .max(24 * 60 * 60 * 1000)
    .default(DEFAULT_WINDOW_MS)
    .describe("how far back latencies are measured; default 15 minutes"),
  llmFunctions: z
    .array(z.string().min(1).max(100))
    .max(100)
    .optional()
    .describe("functions to treat as LLM-heavy besides the built-in agents"),
  model: z.string().min(1).max(200).optional().describe("model for the explanation; default: the node's"),
});
export type ResourceOptimizerInput = z.output<typeof resourceOptimizerInput>;

const numbers = z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()]));

export const resourceOptimizerOutput = z.object({
  metrics: z.record(z.string(), z.unknown()),
  recommendations: z.object({
    concurrency: z.array(
      z.object({
        function: z.string(),
        current: z.number().nullable(),
        recommended: z.number().int().min(1),
        change: z.enum(["set", "lower", "raise", "keep"]),
        reason: z.string(),
        numbers,
      }),
    ),
    models: z.array(
      z.object({ function: z.string(), model: z.string().nullable(), reason: z.string(), numbers }),
    ),
    placement: z.object({ llmWork: z.enum(["local", "server"]), reason: z.string(), numbers }),
  }),
  /** the concurrency limits set on this node (apply: true) */
  applied: z
    .array(z.object({ function: z.string(), from: z.number().nullable(), to: z.number() }))
    .optional(),
  explanation: z.string().optional(),
  explanationUnavailable: z.string().optional(),
});
export type ResourceOptimizerOutput = z.input<typeof resourceOptimizerOutput>;
