import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { hasPermission } from "../auth/rbac.ts";
import { AppError } from "../errors.ts";
import type { AppEnv, Platform } from "../platform.ts";
import type { WorkflowView } from "../workflows/types.ts";
import { requirePermission } from "./guard.ts";
import { IdParam, json, problem } from "./schemas.ts";

const time = z.string().nullable();
const StepSchema = z
  .object({
    id: z.string(),
    function: z.string(),
    dependsOn: z.array(z.string()),
    status: z.enum(["pending", "queued", "running", "succeeded", "failed", "skipped", "cancelled"]),
    invocationId: z.string().nullable(),
    attempts: z.number().int(),
    output: z.unknown().optional(),
    error: z.object({ code: z.string(), message: z.string(), status: z.number().optional() }).nullable(),
    queuedAt: time,
    startedAt: time,
    finishedAt: time,
    durationMs: z.number().nullable(),
  })
  .openapi("WorkflowStep");

const WorkflowSchema = z
  .object({
    id: z.string(),
    status: z.enum(["pending", "running", "succeeded", "failed", "cancelled"]),
    onFailure: z.enum(["stop", "continue"]),
    principal: z.string(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    createdAt: z.string(),
    startedAt: time,
    finishedAt: time,
    steps: z.array(StepSchema),
  })
  .openapi("Workflow");

const startRoute = createRoute({
  method: "post",
  path: "/v1/workflows",
  summary: "Start a workflow: a DAG of steps, each an async invocation",
  description:
    'Body: `{"steps": [{"id", "function", "input", "dependsOn": [ids]}], "onFailure": "stop"|"continue"}` (at most 100 steps). ' +
    'A step\'s input may contain `{"$ref": "steps.<id>.output.<path>"}` anywhere; it is replaced by that value of an earlier ' +
    "step's output, and the referenced step must be one of its (indirect) dependencies. Independent steps run in parallel; each " +
    "step gets its function's retries. Every step runs as the caller. The whole workflow is validated first; a 422 names each bad step.",
  responses: {
    201: json(
      z.object({ id: z.string(), status: WorkflowSchema.shape.status, location: z.string() }),
      "Started",
    ),
    400: problem("Malformed JSON"),
    403: problem("The caller may not run workflows"),
    415: problem("Body is not JSON"),
    422: problem("Invalid workflow: `errors[].path` is `steps.<id>` of each bad step"),
  },
});
const getRoute = createRoute({
  method: "get",
  path: "/v1/workflows/{id}",
  summary: "A workflow's progress: each step's status, timings, output or error",
  request: { params: IdParam },
  responses: { 200: json(WorkflowSchema, "The workflow"), 404: problem("Unknown id") },
});
const cancelRoute = createRoute({
  method: "delete",
  path: "/v1/workflows/{id}",
  summary: "Cancel a workflow: pending steps are cancelled, queued ones withdrawn; running steps finish",
  request: { params: IdParam },
  responses: {
    200: json(WorkflowSchema, "Cancelled"),
    403: problem("Not the caller's workflow"),
    404: problem("Unknown id"),
    409: problem("Already succeeded or failed"),
  },
});

export function workflowRoutes(platform: Platform) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(startRoute, async (c) => {
    requirePermission(c, "workflows:run");
    const { id } = await platform.workflows.start(c.get("body"), c.get("principal"));
    const { status } = await platform.workflows.get(id);
    const location = `/v1/workflows/${id}`;
    c.header("Location", location);
    return c.json({ id, status, location }, 201);
  });
  app.openapi(getRoute, async (c) => {
    requirePermission(c, "invocations:read");
    return c.json(present(await platform.workflows.get(c.req.valid("param").id)), 200);
  });
  app.openapi(cancelRoute, async (c) => {
    requirePermission(c, "workflows:run");
    const principal = c.get("principal");
    const id = c.req.valid("param").id;
    const view = await platform.workflows.get(id);
    // Anyone who may run workflows may cancel their own; other people's need invocations:manage.
    if (view.principal !== principal.id && !hasPermission(principal, "invocations:manage")) {
      throw new AppError(
        403,
        "FORBIDDEN",
        `Workflow ${id} was started by another credential; your credential (role ${principal.role}) needs "invocations:manage" to cancel it.`,
      );
    }
    return c.json(present(await platform.workflows.cancel(id)), 200);
  });
  return app;
}

const present = (view: WorkflowView) => view as z.infer<typeof WorkflowSchema>;
