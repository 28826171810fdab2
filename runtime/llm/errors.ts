import { AppError } from "../errors.ts";

/**
 * The LLM layer's request-time errors, built in one place so both providers say the same
 * thing with the same code, and the detail always tells the operator what to do next.
 */
export const llmErrors = {
  unavailable: (detail: string, cause?: unknown) => new AppError(503, "LLM_UNAVAILABLE", detail, { cause }),

  ollamaDown: (host: string, why: string, cause?: unknown) =>
    new AppError(
      503,
      "LLM_UNAVAILABLE",
      `Cannot reach Ollama at ${host} (${why}). Start it with \`ollama serve\`, or set OLLAMA_HOST to the address it listens on.`,
      { cause },
    ),

  busy: (detail: string, cause?: unknown) =>
    new AppError(503, "LLM_BUSY", detail, { cause, headers: { "Retry-After": "1" } }),

  modelNotFound: (model: string, where: string, cause?: unknown) =>
    new AppError(
      404,
      "MODEL_NOT_FOUND",
      `Model "${model}" is not available in ${where}. Download it with \`ollama pull ${model}\` (or POST /v1/models/pull), or choose another model with SUTAZAI_LLM_MODEL.`,
      { cause },
    ),

  pullNotFound: (model: string, reason: string, cause?: unknown) =>
    new AppError(
      404,
      "MODEL_NOT_FOUND",
      `Ollama could not pull "${model}" (${reason}). Check the name and tag at https://ollama.com/library.`,
      { cause },
    ),

  timeout: (ms: number) =>
    new AppError(504, "LLM_TIMEOUT", `The model did not finish within ${ms} ms (timeoutMs).`),

  cancelled: () => new AppError(499, "CANCELLED", "The LLM call was cancelled before it finished."),

  outputInvalid: (detail: string, errors?: Array<{ path: string; message: string }>) =>
    new AppError(502, "LLM_OUTPUT_INVALID", detail, { errors }),

  streamFailed: (detail: string, cause?: unknown) =>
    new AppError(502, "LLM_STREAM_FAILED", `The model stopped in the middle of its answer: ${detail}`, {
      cause,
    }),

  upstream: (detail: string, cause?: unknown) => new AppError(502, "LLM_ERROR", detail, { cause }),
};
