import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { RateLimiter } from "./auth/rate-limit.ts";
import { canInvoke } from "./auth/rbac.ts";
import { AppError } from "./errors.ts";
import type { FunctionEnv } from "./function.ts";
import { DOCS_HTML } from "./http/docs-page.ts";
import { errorHandler, notFoundHandler } from "./http/error-handler.ts";
import { jsonBody } from "./http/json-body.ts";
import { securityHeaders } from "./http/node-http.ts";
import { auditRoutes } from "./http/routes-audit.ts";
import { authRoutes } from "./http/routes-auth.ts";
import { functionRoutes } from "./http/routes-functions.ts";
import { healthRoutes } from "./http/routes-health.ts";
import { invocationRoutes } from "./http/routes-invocations.ts";
import { keyRoutes } from "./http/routes-keys.ts";
import { knowledgeRoutes } from "./http/routes-knowledge.ts";
import { metricsRoutes } from "./http/routes-metrics.ts";
import { modelRoutes } from "./http/routes-models.ts";
import { stateRoutes } from "./http/routes-state.ts";
import { workflowRoutes } from "./http/routes-workflows.ts";
import { requestInvalid } from "./http/schemas.ts";
import type { AppEnv, Platform } from "./platform.ts";

/** Paths anyone may call: probes, public keys, and the API description (it holds no data). */
const PUBLIC_PATHS = ["/healthz", "/readyz", "/openapi.json", "/docs", "/.well-known/jwks.json"];

/** Extra route groups (sync, auth, workflows, ...) that deploy/* mounts next to the platform API. */
export type RouteGroup = (platform: Platform) => OpenAPIHono<AppEnv>;

/** Builds the node's HTTP app: platform API + every function's own routes under /fn/<name>. */
export function createApp(platform: Platform, extraRoutes: RouteGroup[] = []): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({
    // Validation failures of declared params/query become 400/422 problems with field paths.
    defaultHook: (result) => {
      if (!result.success) throw requestInvalid(result.error.issues);
    },
  });
  app.onError(errorHandler(platform.log));
  app.notFound(notFoundHandler);
  app.use("*", securityHeaders());
  // CORS is off unless origins are configured: browsers elsewhere cannot call the API.
  if (platform.config.corsOrigins.length > 0) {
    app.use(
      "*",
      cors({
        origin: platform.config.corsOrigins,
        allowHeaders: ["Authorization", "Content-Type", "Idempotency-Key"],
      }),
    );
  }
  app.use("*", authenticate(platform));
  app.use("/v1/*", jsonBody(platform.config.bodyLimitBytes, { multipartPaths: ["/v1/knowledge/documents"] }));
  app.use("/fn/*", jsonBody(platform.config.bodyLimitBytes));

  const groups = [
    healthRoutes,
    functionRoutes,
    invocationRoutes,
    stateRoutes,
    metricsRoutes,
    keyRoutes,
    authRoutes,
    auditRoutes,
    modelRoutes,
    workflowRoutes,
    knowledgeRoutes,
  ];
  for (const group of [...groups, ...extraRoutes]) {
    app.route("/", group(platform));
  }
  mountFunctionApps(app, platform);

  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "SutazAI",
      version: "0.1.0",
      description: "Self-hosted runtime for privacy-first AI agents. Errors are application/problem+json.",
    },
  });
  app.get("/docs", (c) => c.html(DOCS_HTML));
  return app;
}

/** Every other path needs a credential; each credential gets its own rate-limit bucket. */
function authenticate(platform: Platform): MiddlewareHandler<AppEnv> {
  const { config, security } = platform;
  const open = new Set(config.metricsPublic ? [...PUBLIC_PATHS, "/metrics"] : PUBLIC_PATHS);
  const limiter = new RateLimiter(config.rateLimitPerSec, config.rateLimitBurst);
  return async (c, next) => {
    if (open.has(c.req.path)) return next();
    const principal = await security.authenticate(c);
    limiter.take(principal.id);
    c.set("principal", principal);
    return next();
  };
}

function mountFunctionApps(app: OpenAPIHono<AppEnv>, platform: Platform): void {
  for (const fn of platform.catalogue.list()) {
    if (!fn.app) continue;
    const sub = new OpenAPIHono<AppEnv & FunctionEnv>();
    sub.use("*", async (c, next) => {
      const principal = c.get("principal");
      if (!canInvoke(principal, fn)) {
        throw new AppError(
          403,
          "FORBIDDEN",
          `Your credential (role ${principal.role}) may not use "${fn.name}".`,
        );
      }
      c.set("ctx", platform.invoker.contextFor(fn, principal, c.req.raw.signal));
      return next();
    });
    sub.route("/", fn.app as never);
    app.route(`/fn/${fn.name}`, sub as never);
  }
}
