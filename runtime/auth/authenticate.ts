import type { KeyObject } from "node:crypto";
import type { Context } from "hono";
import type { AuditLog } from "../audit/log.ts";
import { requestHeader } from "../http/node-http.ts";
import type { Logger } from "../log.ts";
import type { AppEnv, Authenticate } from "../platform.ts";
import { AuthError, type AuthFailureReason } from "./auth-error.ts";
import { type JwtClaims, principalFromClaims, verifyJwt } from "./jwt.ts";
import { KEY_PREFIX, publicPrefix } from "./key-format.ts";
import type { KeyStore } from "./keys.ts";
import type { Principal } from "./principal.ts";

export interface AuthenticatorOptions {
  keys: Pick<KeyStore, "check" | "wasRevoked">;
  /** Omit to accept API keys only. `keys` may be a function so a rotation or a fetched peer JWKS applies without a restart. */
  jwt?: {
    keys: ReadonlyMap<string, KeyObject> | (() => ReadonlyMap<string, KeyObject>);
    issuer: string | readonly string[];
    audience: string;
    clockSkewSec?: number;
  };
  audit?: Pick<AuditLog, "append">;
  log?: Logger;
  now?: () => number;
}

// Verified JWTs are remembered so a client reusing its token pays for one Ed25519 verify,
// not one per request. Bounded; an entry never outlives its token or a minute.
const JWT_CACHE_MAX = 10_000;
const JWT_CACHE_MS = 60_000;
const BEARER = /^Bearer +(\S+) *$/i;

/**
 * Turns `Authorization: Bearer <API key | JWT>` into a Principal, or throws a 401
 * AuthError. Every refusal is audited with its reason (never the credential; for a
 * well-formed API key, only its public prefix). Client-supplied addresses such as
 * X-Forwarded-For are not recorded: they are not trustworthy without a configured proxy.
 */
export function createAuthenticator(opts: AuthenticatorOptions): Authenticate {
  const now = opts.now ?? Date.now;
  const jwtCache = new Map<string, { principal: Principal; until: number }>();

  async function refuse(
    c: Context<AppEnv>,
    reason: AuthFailureReason,
    details: Record<string, unknown>,
  ): Promise<never> {
    try {
      await opts.audit?.append({
        actor: "anonymous",
        action: "auth.failed",
        target: `${c.req.method} ${c.req.path.slice(0, 200)}`,
        outcome: "denied",
        details: { reason, ...details },
      });
    } catch (err) {
      // A broken audit write must not turn a 401 into a 500; it is logged loudly instead.
      opts.log?.error("could not audit an authentication failure", { reason, err });
    }
    throw new AuthError(reason);
  }

  function fromJwt(token: string): Principal {
    const jwt = opts.jwt;
    if (!jwt) throw new AuthError("malformed");
    const t = now();
    const hit = jwtCache.get(token);
    let principal: Principal;
    if (hit && hit.until > t) {
      principal = hit.principal;
    } else {
      if (hit) jwtCache.delete(token);
      const keys = typeof jwt.keys === "function" ? jwt.keys() : jwt.keys;
      const claims: JwtClaims = verifyJwt(token, { ...jwt, keys, now: t });
      principal = Object.freeze(principalFromClaims(claims));
      const skewMs = (jwt.clockSkewSec ?? 30) * 1000;
      if (jwtCache.size >= JWT_CACHE_MAX) jwtCache.delete(jwtCache.keys().next().value!);
      jwtCache.set(token, { principal, until: Math.min(claims.exp * 1000 + skewMs, t + JWT_CACHE_MS) });
    }
    // A token minted from an API key dies with the key, at least on the node that revoked it.
    if (opts.keys.wasRevoked(principal.id)) throw new AuthError("key_revoked");
    return principal;
  }

  return async (c) => {
    const header = requestHeader(c, "authorization");
    if (!header) return refuse(c, "missing", { credential: "none" });
    const credential = BEARER.exec(header)?.[1];
    if (!credential) return refuse(c, "malformed", { credential: "unknown" });

    if (credential.startsWith(KEY_PREFIX)) {
      const result = await opts.keys.check(credential);
      if (result.ok) return result.principal;
      const prefix = publicPrefix(credential);
      return refuse(c, result.reason, { credential: "key", ...(prefix ? { keyPrefix: prefix } : {}) });
    }
    if (credential.split(".").length === 3) {
      try {
        return fromJwt(credential);
      } catch (err) {
        if (err instanceof AuthError) return refuse(c, err.reason, { credential: "jwt" });
        throw err;
      }
    }
    return refuse(c, "malformed", { credential: "unknown" });
  };
}
