import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { AppError } from "../errors.ts";
import type { AppEnv, Platform } from "../platform.ts";
import { requirePermission } from "./guard.ts";
import { json, problem } from "./schemas.ts";

const SEGMENT = /^[A-Za-z0-9._:-]{1,200}$/;
const segment = (name: string) =>
  z
    .string()
    .regex(SEGMENT, `${name}: 1-200 characters of letters, digits, ".", "_", ":" or "-"`)
    .openapi({ param: { name, in: "path" } });

const KeyParams = z.object({ namespace: segment("namespace"), key: segment("key") });
const Entry = z
  .object({ namespace: z.string(), key: z.string(), value: z.unknown(), updatedAt: z.string() })
  .openapi("StateEntry");

const getRoute = createRoute({
  method: "get",
  path: "/v1/state/{namespace}/{key}",
  summary: "Read one state value",
  request: { params: KeyParams },
  responses: { 200: json(Entry, "The value"), 404: problem("No such key") },
});
const putRoute = createRoute({
  method: "put",
  path: "/v1/state/{namespace}/{key}",
  summary: "Write one state value (any JSON); replicated by sync",
  request: { params: KeyParams },
  responses: { 200: json(Entry, "Stored"), 400: problem("Bad JSON"), 415: problem("Not JSON") },
});
const deleteRoute = createRoute({
  method: "delete",
  path: "/v1/state/{namespace}/{key}",
  summary: "Delete one state value",
  request: { params: KeyParams },
  responses: { 204: { description: "Deleted" }, 404: problem("No such key") },
});
const listRoute = createRoute({
  method: "get",
  path: "/v1/state/{namespace}",
  summary: "Keys with values in a namespace, in key order, paged",
  request: {
    params: z.object({ namespace: segment("namespace") }),
    query: z.object({
      after: z.string().max(200).optional(),
      limit: z.coerce.number().int().min(1).max(1000).optional(),
    }),
  },
  responses: { 200: json(z.object({ entries: z.array(Entry), next: z.string().nullable() }), "A page") },
});

export function stateRoutes(platform: Platform) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(getRoute, async (c) => {
    requirePermission(c, "state:read");
    const { namespace, key } = c.req.valid("param");
    const entry = await platform.state.getEntry(namespace, key);
    if (!entry) throw new AppError(404, "STATE_NOT_FOUND", `No value at ${namespace}/${key}.`);
    return c.json(
      { namespace, key, value: entry.value, updatedAt: new Date(entry.updatedAt).toISOString() },
      200,
    );
  });
  app.openapi(putRoute, async (c) => {
    requirePermission(c, "state:write");
    const { namespace, key } = c.req.valid("param");
    const value = c.get("body");
    if (value === undefined)
      throw new AppError(400, "BODY_REQUIRED", "PUT needs a JSON body: the value to store.");
    await platform.state.put(namespace, key, value);
    return c.json({ namespace, key, value, updatedAt: new Date().toISOString() }, 200);
  });
  app.openapi(deleteRoute, async (c) => {
    requirePermission(c, "state:write");
    const { namespace, key } = c.req.valid("param");
    if (!(await platform.state.delete(namespace, key))) {
      throw new AppError(404, "STATE_NOT_FOUND", `No value at ${namespace}/${key}.`);
    }
    return c.body(null, 204);
  });
  app.openapi(listRoute, async (c) => {
    requirePermission(c, "state:read");
    const { namespace } = c.req.valid("param");
    const { after, limit = 100 } = c.req.valid("query");
    const entries = await platform.state.list(namespace, { after, limit });
    const next = entries.length === limit ? entries[entries.length - 1]!.key : null;
    return c.json(
      {
        entries: entries.map((e) => ({
          namespace,
          key: e.key,
          value: e.value,
          updatedAt: new Date(e.updatedAt).toISOString(),
        })),
        next,
      },
      200,
    );
  });
  return app;
}
