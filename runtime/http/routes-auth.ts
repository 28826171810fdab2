import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { toJwks } from "../auth/signing-keys.ts";
import { AppError } from "../errors.ts";
import type { AppEnv, Platform } from "../platform.ts";
import { json, problem } from "./schemas.ts";

const tokenRoute = createRoute({
  method: "post",
  path: "/v1/auth/token",
  summary: "Exchange the API key in the Authorization header for a short-lived EdDSA JWT",
  responses: {
    200: json(
      z.object({ token: z.string(), tokenType: z.literal("Bearer"), expiresAt: z.string() }),
      "A token",
    ),
    400: problem("Called with a JWT instead of an API key"),
    401: problem("No valid API key"),
  },
});
const jwksRoute = createRoute({
  method: "get",
  path: "/.well-known/jwks.json",
  summary: "The public keys this node signs tokens with",
  responses: { 200: json(z.object({ keys: z.array(z.record(z.string(), z.string())) }), "JWKS") },
});

export function authRoutes(platform: Platform) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(tokenRoute, (c) => {
    const principal = c.get("principal");
    if (principal.via !== "key") {
      throw new AppError(
        400,
        "API_KEY_REQUIRED",
        "Call /v1/auth/token with an API key as the Bearer credential, not a token.",
      );
    }
    const { token, expiresAt } = platform.security.signer.sign(principal);
    return c.json({ token, tokenType: "Bearer" as const, expiresAt: new Date(expiresAt).toISOString() }, 200);
  });
  app.openapi(jwksRoute, (c) => c.json(toJwks(platform.security.publicKeys()) as never, 200));
  return app;
}
