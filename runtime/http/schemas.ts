import { z } from "@hono/zod-openapi";
import { AppError, fieldErrors } from "../errors.ts";

/** Shared OpenAPI schemas for the platform API. */
export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string().openapi({ example: "INPUT_INVALID" }),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem");

export const problem = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: ProblemSchema } },
});

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

export const InvocationSchema = z
  .object({
    id: z.string(),
    function: z.string(),
    trigger: z.string(),
    status: z.enum(["queued", "running", "succeeded", "failed", "dead", "cancelled"]),
    attempt: z.number().int(),
    maxAttempts: z.number().int(),
    output: z.unknown().optional(),
    error: z.object({ code: z.string(), message: z.string(), status: z.number().optional() }).nullable(),
    progress: z.record(z.string(), z.unknown()).nullable(),
    principal: z.string().nullable(),
    nodeId: z.string(),
    idempotencyKey: z.string().nullable(),
    queuedAt: z.string().nullable(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    durationMs: z.number().nullable(),
  })
  .openapi("Invocation");

export const IdParam = z.object({
  id: z
    .string()
    .openapi({ param: { name: "id", in: "path" }, example: "01928f6e-8c2a-7c3e-9d41-2b7e5f0c1a2b" }),
});
export const NameParam = z.object({
  name: z.string().openapi({ param: { name: "name", in: "path" }, example: "telemetry" }),
});

/** A route's declared parameters (path, query, headers) failed their schema: 400 with field paths. */
export function requestInvalid(issues: z.core.$ZodIssue[]): AppError {
  return new AppError(400, "REQUEST_INVALID", "The request's parameters are invalid.", {
    errors: fieldErrors(issues),
  });
}

/** What a route's validator would check, for a route served without one (synchronous, no copy of the headers). */
export function checkParams(schema: z.ZodType, value: unknown): void {
  const result = schema.safeParse(value);
  if (!result.success) throw requestInvalid(result.error.issues);
}
