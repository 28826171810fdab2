import { z } from "zod";
import { defineFunction } from "../../runtime/function.ts";

/** The smallest useful agent: returns what it was given. Handy for smoke tests and benchmarks. */
export const echo = defineFunction({
  name: "echo",
  description:
    "Returns its input unchanged (and, with delayMs, after a pause). For smoke tests and benchmarks.",
  input: z.object({
    message: z.string().max(10_000).optional(),
    delayMs: z.number().int().min(0).max(60_000).optional(),
  }),
  output: z.object({ message: z.string().optional(), node: z.string() }),
  timeoutMs: 65_000,
  async handler(input, ctx) {
    if (input.delayMs) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, input.delayMs);
        const stop = () => {
          clearTimeout(t);
          reject(ctx.signal.reason);
        };
        ctx.signal.addEventListener("abort", stop, { once: true });
      });
    }
    return { message: input.message, node: ctx.node.id };
  },
});
