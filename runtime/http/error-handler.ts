import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { AppError } from "../errors.ts";
import type { Logger } from "../log.ts";

const PROBLEM = "application/problem+json";

/** Renders any error as problem+json. Only an unexpected exception becomes a 500, and it is logged. */
export function errorHandler(log: Logger) {
  return (err: Error, c: Context): Response => {
    const appError = toAppError(err);
    if (appError.status >= 500 && !(err instanceof AppError)) {
      log.error("unhandled error", { err, method: c.req.method, path: c.req.path });
    }
    return problemResponse(appError);
  };
}

export function problemResponse(err: AppError): Response {
  const headers = new Headers({ "content-type": PROBLEM, ...err.headers });
  return new Response(JSON.stringify(err.toProblem()), { status: err.status, headers });
}

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof HTTPException) {
    if (err.status === 400)
      return new AppError(400, "MALFORMED_JSON", err.message || "The request body is not valid JSON.");
    if (err.status === 413) return payloadTooLarge();
    return new AppError(err.status, `HTTP_${err.status}`, err.message || "Request failed.");
  }
  return new AppError(500, "INTERNAL", "An unexpected error occurred; it has been logged.", { cause: err });
}

export const payloadTooLarge = (limit?: number) =>
  new AppError(
    413,
    "PAYLOAD_TOO_LARGE",
    limit ? `The request body is larger than the limit of ${limit} bytes.` : "The request body is too large.",
  );

export const notFoundHandler = (c: Context) =>
  problemResponse(
    new AppError(404, "ROUTE_NOT_FOUND", `No route for ${c.req.method} ${c.req.path.slice(0, 200)}.`),
  );
