import { SYSTEM_PRINCIPAL } from "../../runtime/auth/principal.ts";
import type { JobPayload } from "../../runtime/queue/types.ts";

export function jobPayload(invocationId: string, input: unknown = {}): JobPayload {
  return { invocationId, function: "echo", input, principal: SYSTEM_PRINCIPAL, trigger: "queue" };
}

/** Polls `check` until it returns true; timing-tolerant by design (no exact-time assertions). */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  { timeoutMs = 10_000, intervalMs = 10, what = "condition" } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A promise plus its resolve function: gates a handler until the test opens it. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
