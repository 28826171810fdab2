import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { InvokeRequest } from "../invoke.ts";
import type { AppEnv, Platform } from "../platform.ts";
import { toAppError } from "./error-handler.ts";

/**
 * `Accept: text/event-stream` on a sync invoke: tokens from the function's LLM calls arrive
 * as `token` events, then one `result` (the usual answer) or `error` (a problem) event.
 * The invocation is recorded either way; a client that disconnects aborts the function
 * through its signal and the row says so.
 */
export function streamInvocation(c: Context<AppEnv>, platform: Platform, req: InvokeRequest): Response {
  return streamSSE(c, async (sse) => {
    const abort = new AbortController();
    sse.onAbort(() => abort.abort());
    const pending: Promise<void>[] = [];
    const signal = req.signal ? AbortSignal.any([req.signal, abort.signal]) : abort.signal;
    try {
      const result = await platform.invoker.invoke({
        ...req,
        signal,
        onToken: (token) => {
          if (!sse.aborted) pending.push(sse.writeSSE({ event: "token", data: JSON.stringify(token) }));
        },
      });
      await Promise.all(pending);
      await sse.writeSSE({ event: "result", data: JSON.stringify(result), id: result.id });
    } catch (err) {
      await Promise.all(pending).catch(() => {});
      if (!sse.aborted)
        await sse.writeSSE({ event: "error", data: JSON.stringify(toAppError(err).toProblem()) });
    }
  });
}
