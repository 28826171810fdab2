import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context, MiddlewareHandler } from "hono";

/*
 * The Node request and response under a Hono context, for the hot path. On
 * @hono/node-server, `c.req.header()` builds a web Headers object from the whole request
 * and setting a header on `c.res` turns the light response into a full web Response: each
 * was a few percent of a small request's CPU. Node has parsed the headers already and will
 * write the response itself, so we read and write there. Under `app.request()` (tests, the
 * in-process sync transport) there is no Node request, and the web objects serve instead.
 */

interface NodeBindings {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
}

/** The Node request, when the app runs on @hono/node-server. */
export const nodeRequest = (c: Context): IncomingMessage | undefined =>
  (c.env as NodeBindings | undefined)?.incoming;

/** The Node response, when the app runs on @hono/node-server. */
export const nodeResponse = (c: Context): ServerResponse | undefined =>
  (c.env as NodeBindings | undefined)?.outgoing;

/**
 * A request header (`name` in lower case), as `c.req.header(name)` gives it. Repeated
 * headers come joined with ", " as there, except the few Node keeps once (content-type,
 * authorization, ...: a second copy of those is malformed anyway).
 */
export function requestHeader(c: Context, name: string): string | undefined {
  const incoming = nodeRequest(c);
  if (!incoming) return c.req.header(name);
  const value = incoming.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

/** The browser-facing protections every answer carries (hono/secure-headers' defaults). */
export const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ["Cross-Origin-Resource-Policy", "same-origin"],
  ["Cross-Origin-Opener-Policy", "same-origin"],
  ["Origin-Agent-Cluster", "?1"],
  ["Referrer-Policy", "no-referrer"],
  ["Strict-Transport-Security", "max-age=15552000; includeSubDomains"],
  ["X-Content-Type-Options", "nosniff"],
  ["X-DNS-Prefetch-Control", "off"],
  ["X-Download-Options", "noopen"],
  ["X-Frame-Options", "SAMEORIGIN"],
  ["X-Permitted-Cross-Domain-Policies", "none"],
  ["X-XSS-Protection", "0"],
];

/**
 * Adds SECURITY_HEADERS to every response: on Node before the handler runs (Node merges
 * them into whatever the response writes, errors and streams included), elsewhere onto the
 * finished response. A header the handler set itself wins in both cases.
 */
export function securityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    const outgoing = nodeResponse(c);
    if (outgoing) {
      for (const [name, value] of SECURITY_HEADERS) outgoing.setHeader(name, value);
      return next();
    }
    await next();
    for (const [name, value] of SECURITY_HEADERS)
      if (!c.res.headers.has(name)) c.res.headers.set(name, value);
  };
}
