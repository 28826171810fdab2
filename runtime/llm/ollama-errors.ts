import { AppError } from "../errors.ts";
import { llmErrors } from "./errors.ts";

/**
 * Turns what the `ollama` client throws into our AppErrors. The client throws three kinds:
 * - a ResponseError (`status_code`, `error`) when Ollama answers with an error status;
 * - whatever `fetch` throws (connection refused, DNS…), which `ollamaFetch` classifies
 *   before the client sees it, because only there do we know no answer arrived at all;
 * - a plain Error while a stream is read: an `{"error": …}` line in the middle of an NDJSON
 *   stream, a stream that ended without `done`, or the socket dying midway.
 */
interface ResponseErrorLike extends Error {
  name: "ResponseError";
  status_code: number;
  error: string;
}

function isResponseError(err: unknown): err is ResponseErrorLike {
  return (
    err instanceof Error &&
    err.name === "ResponseError" &&
    typeof (err as { status_code?: unknown }).status_code === "number"
  );
}

/** An error Ollama answered with (before any stream began) → our error. */
export function fromOllamaResponse(err: unknown, ctx: { host: string; model?: string }): unknown {
  if (err instanceof AppError || !isResponseError(err)) return err;
  const status = err.status_code;
  const message = err.error || err.message;
  // 404 also comes from an Ollama too old to have the endpoint ("404 page not found").
  if (status === 404 && ctx.model && /model/i.test(message)) {
    return llmErrors.modelNotFound(ctx.model, `Ollama at ${ctx.host}`, err);
  }
  if (status === 404)
    return llmErrors.upstream(
      `Ollama at ${ctx.host} answered 404 (${message}); is it older than the API SutazAI needs? Upgrade Ollama.`,
      err,
    );
  if (status === 429 || status === 503)
    return llmErrors.busy(
      `Ollama at ${ctx.host} is busy (${message}); try again shortly or raise OLLAMA_MAX_QUEUE.`,
      err,
    );
  if (status === 401 || status === 403)
    return llmErrors.upstream(
      `Ollama at ${ctx.host} refused the request (${status}: ${message}); check the proxy in front of it.`,
      err,
    );
  return llmErrors.upstream(`Ollama at ${ctx.host} answered ${status}: ${message}`, err);
}

/** Codes undici puts on `err.cause` when no HTTP answer could be had at all. */
const CONNECT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "EPIPE",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
]);

export function connectFailureReason(err: unknown): string {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && CONNECT_CODES.has(code)) return code;
    current = current.cause;
  }
  return err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
}

/**
 * The fetch the `ollama` client uses: adds the call's abort signal (the client passes none
 * on non-streaming requests) and reports "no answer at all" as LLM_UNAVAILABLE.
 */
export function ollamaFetch(
  host: string,
  signal: AbortSignal,
  baseFetch: typeof fetch = fetch,
): typeof fetch {
  return async (input, init) => {
    const signals = [signal, init?.signal].filter((s): s is AbortSignal => s != null);
    try {
      return await baseFetch(input, {
        ...init,
        signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0],
      });
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw llmErrors.ollamaDown(host, connectFailureReason(err), err);
    }
  };
}

/** An error while reading a stream that had started → LLM_STREAM_FAILED (or the abort). */
export function fromStreamFailure(err: unknown, ctx: { host: string; signal: AbortSignal }): unknown {
  if (ctx.signal.aborted) return ctx.signal.reason;
  if (err instanceof AppError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : "";
  return llmErrors.streamFailed(`Ollama at ${ctx.host} reported: ${message}${cause}`, err);
}
