import { z } from "zod";
import { defineFunction } from "../../runtime/function.ts";

/** Functions that misbehave on purpose, to test what the platform does about it. */
export const sleepy = defineFunction({
  name: "sleepy",
  description: "Sleeps longer than its timeout",
  input: z.object({ ms: z.number().int().min(0) }),
  output: z.object({ slept: z.number() }),
  timeoutMs: 100,
  handler: async ({ ms }) => {
    await new Promise((r) => setTimeout(r, ms));
    return { slept: ms };
  },
});

export const liar = defineFunction({
  name: "liar",
  description: "Returns output that breaks its own schema",
  input: z.object({}).passthrough(),
  output: z.object({ count: z.number() }),
  handler: () => ({ count: "many" }) as unknown as { count: number },
});

export const flaky = defineFunction({
  name: "flaky",
  description: "Fails until the given attempt, counting calls in state",
  input: z.object({ key: z.string(), succeedOnCall: z.number().int().min(1) }),
  output: z.object({ calls: z.number() }),
  retries: 3,
  async handler({ key, succeedOnCall }, ctx) {
    const calls = ((await ctx.state.get<number>("flaky", key)) ?? 0) + 1;
    await ctx.state.put("flaky", key, calls);
    if (calls < succeedOnCall) throw new Error(`call ${calls} fails on purpose`);
    return { calls };
  },
});

export const caller = defineFunction({
  name: "caller",
  description: "Calls echo through ctx.invoke (multi-agent)",
  input: z.object({ message: z.string() }),
  output: z.object({ echoed: z.unknown() }),
  handler: async ({ message }, ctx) => ({ echoed: await ctx.invoke("echo", { message }) }),
});

export const testFunctions = [sleepy, liar, flaky, caller];
