import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { AppError } from "../errors.ts";
import { ON_BEHALF_HEADER, type Placement, principalOnBehalf } from "../placement/forwarder.ts";
import type { AppEnv, Platform } from "../platform.ts";
import { requirePermission } from "./guard.ts";
import { streamInvocation } from "./invoke-stream.ts";
import { requestHeader } from "./node-http.ts";
import { checkParams, json, NameParam, problem } from "./schemas.ts";

const FunctionSchema = z
  .object({
    name: z.string(),
    description: z.string(),
    permission: z.string(),
    timeoutMs: z.number().optional(),
    retries: z.number().optional(),
    input: z.unknown(),
    output: z.unknown(),
    routes: z.string().optional(),
  })
  .openapi("Function");

const listRoute = createRoute({
  method: "get",
  path: "/v1/functions",
  summary: "The catalogue: every function with its input/output JSON schema",
  responses: { 200: json(z.object({ functions: z.array(FunctionSchema) }), "The catalogue") },
});

const getRoute = createRoute({
  method: "get",
  path: "/v1/functions/{name}",
  summary: "One function of the catalogue",
  request: { params: NameParam },
  responses: { 200: json(FunctionSchema, "The function"), 404: problem("No such function") },
});

const InvokeQuery = z.object({
  mode: z.enum(["sync", "async"]).optional(),
  placement: z
    .enum(["auto", "local", "server"])
    .optional()
    .openapi({ description: "edge only: `server` forwards to the central server, queued while offline" }),
});
const InvokeHeaders = z.object({ "idempotency-key": z.string().max(200).optional() });

const invokeRoute = createRoute({
  method: "post",
  path: "/v1/functions/{name}/invoke",
  summary: "Invoke a function; the body is its input",
  description:
    "Synchronous by default: answers with the output. `?mode=async` enqueues it and answers 202 with the invocation id and a Location header. An `Idempotency-Key` header makes a repeated request return the first result instead of running twice.",
  request: { params: NameParam, query: InvokeQuery, headers: InvokeHeaders },
  responses: {
    200: json(
      z.object({
        id: z.string(),
        function: z.string(),
        status: z.literal("succeeded"),
        output: z.unknown(),
        durationMs: z.number(),
        replayed: z.boolean().optional(),
      }),
      "The function's output",
    ),
    202: json(z.object({ id: z.string(), status: z.literal("queued"), location: z.string() }), "Queued"),
    400: problem("Malformed JSON"),
    403: problem("The caller may not invoke this function"),
    404: problem("No such function"),
    413: problem("Body too large"),
    415: problem("Body is not JSON"),
    422: problem("Input does not match the function's schema"),
    502: problem("The function returned output that breaks its own schema"),
    504: problem("The function timed out"),
  },
});

function queuedForServer(c: Context<AppEnv>, queued: { id: string }) {
  const location = `/v1/invocations/${queued.id}`;
  c.header("Location", location);
  return c.json({ id: queued.id, status: "queued" as const, location, placement: "server" }, 202);
}

export function functionRoutes(platform: Platform) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(listRoute, (c) => {
    requirePermission(c, "functions:list");
    const functions = platform.catalogue.list().map((fn) => platform.catalogue.describe(fn));
    return c.json({ functions: functions as z.infer<typeof FunctionSchema>[] }, 200);
  });
  app.openapi(getRoute, (c) => {
    requirePermission(c, "functions:list");
    const fn = platform.catalogue.require(c.req.param("name"));
    return c.json(platform.catalogue.describe(fn) as z.infer<typeof FunctionSchema>, 200);
  });
  // The hot path. Documented from invokeRoute like the others, but served without Hono's
  // validator middleware: each validator reads the whole request's headers into a web
  // Headers object and parses asynchronously (with the header changes of node-http.ts,
  // ~5-10% of a no-op invocation's CPU).
  // The same schemas check the same values, with the same REQUEST_INVALID answer; the body
  // was parsed once by the jsonBody middleware.
  app.openAPIRegistry.registerPath(invokeRoute);
  app.post("/v1/functions/:name/invoke", async (c) => {
    const name = c.req.param("name");
    const query = { mode: c.req.query("mode"), placement: c.req.query("placement") };
    const headers = { "idempotency-key": requestHeader(c, "idempotency-key") };
    checkParams(InvokeQuery, query);
    checkParams(InvokeHeaders, headers);
    const mode = query.mode ?? "sync";
    const idempotencyKey = headers["idempotency-key"] || undefined;
    const placement = (query.placement ?? "auto") as Placement;
    const req = {
      function: name,
      input: c.get("body"),
      // a forwarded request from an edge runs as the caller the edge names (node keys only)
      principal: principalOnBehalf(c.get("principal"), requestHeader(c, ON_BEHALF_HEADER)),
      trigger: "http" as const,
      idempotencyKey,
      signal: c.req.raw.signal,
      placement,
    };
    if (
      mode === "sync" &&
      placement === "server" &&
      platform.forwarder?.configured &&
      !platform.forwarder.online()
    ) {
      return queuedForServer(c, await platform.invoker.enqueue(req));
    }
    if (mode === "async") {
      const { id } = await platform.invoker.enqueue(req);
      const location = `/v1/invocations/${id}`;
      c.header("Location", location);
      return c.json({ id, status: "queued" as const, location }, 202);
    }
    if (requestHeader(c, "accept")?.includes("text/event-stream")) {
      platform.invoker.authorize(req); // refuse with a real 403/404 before the stream's 200 is sent
      return streamInvocation(c, platform, req) as never;
    }
    try {
      const result = await platform.invoker.invoke(req);
      c.header("X-Invocation-Id", result.id);
      return c.json(result, 200);
    } catch (err) {
      // The link dropped during the call: keep the work, queued until the server is back.
      if (err instanceof AppError && err.code === "SERVER_UNREACHABLE" && placement === "server") {
        return queuedForServer(c, await platform.invoker.enqueue(req));
      }
      throw err;
    }
  });
  return app;
}
