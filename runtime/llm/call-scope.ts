import { AppError } from "../errors.ts";
import { llmErrors } from "./errors.ts";

/**
 * One LLM call's cancellation: the caller's signal and the per-call timeout folded into one
 * AbortSignal for the provider, plus a promise that rejects the moment either fires, so a
 * call answers promptly even while the library underneath is still winding down.
 */
export interface CallScope {
  readonly signal: AbortSignal;
  /** rejects with the abort error when the call is cancelled or times out; never resolves */
  readonly aborted: Promise<never>;
  /** races `work` against the abort, and turns library errors caused by the abort into ours */
  run<T>(work: Promise<T>): Promise<T>;
  /** the error to throw for `err`: the abort reason if this call was aborted, else `err` */
  rethrow(err: unknown): never;
  /** ends the call with `reason` (e.g. the error a token callback threw) */
  abort(reason: unknown): void;
  dispose(): void;
}

export function callScope(opts: { signal?: AbortSignal; timeoutMs?: number }): CallScope {
  const controller = new AbortController();
  const parent = opts.signal;
  const onParentAbort = () => controller.abort(abortReason(parent?.reason));
  if (parent?.aborted) onParentAbort();
  else parent?.addEventListener("abort", onParentAbort, { once: true });

  let timer: NodeJS.Timeout | undefined;
  if (opts.timeoutMs !== undefined && opts.timeoutMs > 0 && !controller.signal.aborted) {
    const ms = opts.timeoutMs;
    timer = setTimeout(() => controller.abort(llmErrors.timeout(ms)), ms);
  }

  const aborted = new Promise<never>((_, reject) => {
    const fire = () => reject(controller.signal.reason);
    if (controller.signal.aborted) fire();
    else controller.signal.addEventListener("abort", fire, { once: true });
  });
  aborted.catch(() => {}); // observed through run(); never an unhandled rejection

  const rethrow = (err: unknown): never => {
    if (controller.signal.aborted) throw controller.signal.reason;
    throw err;
  };

  return {
    signal: controller.signal,
    aborted,
    run: async <T>(work: Promise<T>) => {
      work.catch(() => {}); // if the abort wins the race, the loser's rejection is expected
      try {
        return await Promise.race([work, aborted]);
      } catch (err) {
        return rethrow(err);
      }
    },
    rethrow,
    abort: (reason) => controller.abort(reason),
    dispose: () => {
      clearTimeout(timer);
      parent?.removeEventListener("abort", onParentAbort);
    },
  };
}

/** The invoke path aborts with an AppError (FUNCTION_TIMEOUT, CANCELLED): keep it as is. */
function abortReason(reason: unknown): AppError {
  return reason instanceof AppError ? reason : llmErrors.cancelled();
}

/**
 * The caller's token callback, made safe to hand to a library: node-llama-cpp swallows a
 * callback's exception and keeps generating, the ollama stream would surface it as a stream
 * failure. Here a throwing callback ends the call, which rejects with the callback's error.
 */
export function guardOnToken(
  scope: CallScope,
  onToken: ((token: string) => void) | undefined,
): ((token: string) => void) | undefined {
  if (!onToken) return undefined;
  return (token) => {
    if (scope.signal.aborted) return;
    try {
      onToken(token);
    } catch (err) {
      scope.abort(err);
    }
  };
}

/** Runs `fn` inside a scope and always disposes it. */
export async function withCallScope<T>(
  opts: { signal?: AbortSignal; timeoutMs?: number },
  fn: (scope: CallScope) => Promise<T>,
): Promise<T> {
  const scope = callScope(opts);
  try {
    return await scope.run(fn(scope));
  } finally {
    scope.dispose();
  }
}
