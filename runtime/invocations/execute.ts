import { AppError, fieldErrors } from "../errors.ts";
import type { AnyFunction, FunctionContext } from "../function.ts";

/**
 * The core of every invocation: validate input → run the handler under a timeout and an
 * abort signal → validate output. Knows nothing about triggers, rows or queues.
 */
export function parseInput(fn: AnyFunction, input: unknown): unknown {
  const parsed = fn.input.safeParse(input);
  if (!parsed.success) {
    throw new AppError(422, "INPUT_INVALID", `Input does not match the schema of "${fn.name}".`, {
      errors: fieldErrors(parsed.error.issues),
    });
  }
  return parsed.data;
}

export async function runHandler(
  fn: AnyFunction,
  input: unknown,
  ctx: Omit<FunctionContext, "signal">,
  parentSignal?: AbortSignal,
): Promise<unknown> {
  const timeoutMs = fn.timeoutMs ?? 30_000;
  // The race lets a handler that ignores its signal still be answered on time; the signal
  // tells well-behaved handlers to stop their work. It is made only when the handler reads
  // it: an AbortController and its listener were a tenth of a no-op invocation's own CPU.
  let controller: AbortController | undefined;
  let stopped: { reason: unknown } | undefined;
  let rejectAborted!: (err: AppError) => void;
  const aborted = new Promise<never>((_, reject) => {
    rejectAborted = reject;
  });
  const abort = (reason: unknown) => {
    if (stopped) return;
    stopped = { reason };
    controller?.abort(reason);
    rejectAborted(asAbortError(reason));
  };
  const timer = setTimeout(
    () =>
      abort(
        new AppError(504, "FUNCTION_TIMEOUT", `Function "${fn.name}" did not finish within ${timeoutMs} ms.`),
      ),
    timeoutMs,
  );
  const onParentAbort = () => abort(parentSignal?.reason);
  parentSignal?.addEventListener("abort", onParentAbort, { once: true });
  if (parentSignal?.aborted) onParentAbort();
  const handlerCtx = {
    ...ctx,
    get signal(): AbortSignal {
      if (!controller) {
        controller = new AbortController();
        if (stopped) controller.abort(stopped.reason);
      }
      return controller.signal;
    },
  } as FunctionContext;
  try {
    const result = await Promise.race([Promise.resolve().then(() => fn.handler(input, handlerCtx)), aborted]);
    return parseOutput(fn, result);
  } finally {
    clearTimeout(timer);
    parentSignal?.removeEventListener("abort", onParentAbort);
    aborted.catch(() => {}); // settled or not, nobody else awaits it
  }
}

function parseOutput(fn: AnyFunction, result: unknown): unknown {
  const parsed = fn.output.safeParse(result);
  if (!parsed.success) {
    throw new AppError(
      502,
      "OUTPUT_INVALID",
      `Function "${fn.name}" returned output that does not match its own output schema (a bug in the function).`,
      { errors: fieldErrors(parsed.error.issues) },
    );
  }
  return parsed.data;
}

function asAbortError(reason: unknown): AppError {
  if (reason instanceof AppError) return reason;
  return new AppError(499, "CANCELLED", "The invocation was cancelled before it finished.");
}

/** Failures that will fail the same way on every retry: the input or the caller is wrong. */
export function isPermanent(err: unknown): boolean {
  return (
    err instanceof AppError &&
    err.status >= 400 &&
    err.status < 500 &&
    err.status !== 429 &&
    err.status !== 408
  );
}
