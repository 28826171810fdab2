import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { parseDuration } from "../auth/duration.ts";
import { ROLES } from "../auth/principal.ts";
import { AppError, fieldErrors } from "../errors.ts";
import { isValidFunctionName } from "../function.ts";
import type { AppEnv, Platform } from "../platform.ts";
import { requirePermission } from "./guard.ts";
import { IdParam, json, problem } from "./schemas.ts";

const KeyInfo = z
  .object({
    id: z.string(),
    name: z.string(),
    prefix: z.string(),
    role: z.enum(ROLES),
    functions: z.array(z.string()).nullable(),
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
    lastUsedAt: z.string().nullable(),
    createdBy: z.string(),
  })
  .openapi("ApiKey");

const CreateKey = z
  .object({
    name: z.string().min(1).max(100),
    role: z.enum(ROLES),
    functions: z
      .array(z.string().refine(isValidFunctionName, "not a valid function name"))
      .max(1000)
      .optional(),
    // An empty string is refused rather than read as "never expires".
    expires: z
      .string()
      .min(1)
      .max(20)
      .refine(isDuration, "use a positive number followed by s, m, h or d (e.g. 30d), at most 3650d")
      .optional()
      .openapi({ description: "lifetime such as 30d, 12h, 90m" }),
  })
  .strict();

const createRouteDef = createRoute({
  method: "post",
  path: "/v1/keys",
  summary: "Create an API key (admin). The secret is in this answer and nowhere else, ever.",
  responses: {
    201: json(KeyInfo.extend({ secret: z.string() }), "Created"),
    403: problem("Not an admin"),
    422: problem("Invalid key request"),
  },
});
const listRoute = createRoute({
  method: "get",
  path: "/v1/keys",
  summary: "List API keys (admin); secrets are never shown",
  responses: { 200: json(z.object({ keys: z.array(KeyInfo) }), "The keys") },
});
const revokeRoute = createRoute({
  method: "delete",
  path: "/v1/keys/{id}",
  summary: "Revoke an API key (admin); effective immediately",
  request: { params: IdParam },
  responses: { 200: json(KeyInfo, "Revoked"), 404: problem("No such key") },
});

function isDuration(text: string): boolean {
  try {
    return parseDuration(text) > 0;
  } catch {
    return false;
  }
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
type Info = Awaited<ReturnType<Platform["security"]["keys"]["list"]>>[number];
const present = (k: Info) => ({
  ...k,
  createdAt: new Date(k.createdAt).toISOString(),
  expiresAt: iso(k.expiresAt),
  revokedAt: iso(k.revokedAt),
  lastUsedAt: iso(k.lastUsedAt),
});

export function keyRoutes(platform: Platform) {
  const app = new OpenAPIHono<AppEnv>();
  const { keys } = platform.security;
  app.openapi(createRouteDef, async (c) => {
    requirePermission(c, "keys:manage");
    const parsed = CreateKey.safeParse(c.get("body"));
    if (!parsed.success) {
      throw new AppError(422, "INPUT_INVALID", "The key request is invalid.", {
        errors: fieldErrors(parsed.error.issues),
      });
    }
    const { name, role, functions, expires } = parsed.data;
    const created = await keys.create({
      name,
      role,
      functions: functions ?? null,
      expiresAt: expires ? Date.now() + parseDuration(expires) : null,
      createdBy: c.get("principal").id,
    });
    return c.json({ ...present(created), secret: created.secret }, 201);
  });
  app.openapi(listRoute, async (c) => {
    requirePermission(c, "keys:manage");
    return c.json({ keys: (await keys.list()).map(present) }, 200);
  });
  app.openapi(revokeRoute, async (c) => {
    requirePermission(c, "keys:manage");
    const id = c.req.valid("param").id;
    const revoked = await keys.revoke(id, c.get("principal").id);
    if (!revoked) throw new AppError(404, "KEY_NOT_FOUND", `No API key with id "${id.slice(0, 80)}".`);
    return c.json(present(revoked), 200);
  });
  return app;
}
