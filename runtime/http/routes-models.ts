import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { stream } from "hono/streaming";
import { AppError, fieldErrors } from "../errors.ts";
import type { AppEnv, Platform } from "../platform.ts";
import { requirePermission } from "./guard.ts";
import { json, problem } from "./schemas.ts";

const listRoute = createRoute({
  method: "get",
  path: "/v1/models",
  summary: "Models the LLM provider offers, and those loaded in memory now",
  responses: {
    200: json(
      z.object({
        provider: z.string(),
        models: z.array(z.record(z.string(), z.unknown())),
        loaded: z.array(z.record(z.string(), z.unknown())),
      }),
      "Models",
    ),
    503: problem("The LLM provider cannot be reached"),
  },
});
const pullRoute = createRoute({
  method: "post",
  path: "/v1/models/pull",
  summary: "Download a model (Ollama, admin); streams progress as NDJSON lines",
  description:
    'Body `{"model":"llama3.2:1b"}`. Each line is `{status, total?, completed?}`; the last is `{status:"success"}` or `{status:"error", error}`.',
  responses: {
    200: { description: "NDJSON progress", content: { "application/x-ndjson": { schema: z.string() } } },
    400: problem("The provider cannot pull models"),
    422: problem("No model named"),
  },
});

const PullBody = z.object({
  model: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9._:/-]+$/, "a model tag such as llama3.2:1b"),
});

export function modelRoutes(platform: Platform) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(listRoute, async (c) => {
    requirePermission(c, "models:read");
    const [models, loaded] = await Promise.all([
      platform.llm.listModels(),
      platform.llm.ps().catch(() => []),
    ]);
    return c.json(
      { provider: platform.llm.provider, models: models as never[], loaded: loaded as never[] },
      200,
    );
  });
  app.openapi(pullRoute, async (c) => {
    requirePermission(c, "models:manage");
    const parsed = PullBody.safeParse(c.get("body"));
    if (!parsed.success) {
      throw new AppError(422, "INPUT_INVALID", "Say which model to pull.", {
        errors: fieldErrors(parsed.error.issues),
      });
    }
    if (platform.llm.provider !== "ollama") {
      throw new AppError(
        400,
        "LLM_PULL_UNSUPPORTED",
        `The ${platform.llm.provider} provider cannot pull models; copy a GGUF file instead.`,
      );
    }
    const { model } = parsed.data;
    platform.security.audit.record({
      actor: c.get("principal").id,
      role: c.get("principal").role,
      action: "model.pull",
      target: model,
      outcome: "started",
    });
    c.header("content-type", "application/x-ndjson");
    return stream(c, async (out) => {
      const write = (line: Record<string, unknown>) => out.write(`${JSON.stringify(line)}\n`);
      try {
        await platform.llm.pull(model, { onProgress: (p) => void write({ ...p }), signal: c.req.raw.signal });
        await write({ status: "success" });
      } catch (err) {
        await write({ status: "error", error: err instanceof AppError ? err.toProblem() : String(err) });
      }
    }) as never;
  });
  return app;
}
