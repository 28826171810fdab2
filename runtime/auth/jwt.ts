import { sign as edSign, verify as edVerify, type KeyObject } from "node:crypto";
import { uuidv7 } from "../ids.ts";
import { AuthError, type AuthFailureReason } from "./auth-error.ts";
import { type Principal, ROLES, type Role } from "./principal.ts";

/** The claims of a SutazAI access token. `role` and `functions` turn it back into a Principal offline. */
export interface JwtClaims {
  iss: string;
  aud: string | string[];
  sub: string;
  iat: number;
  nbf?: number;
  exp: number;
  jti?: string;
  role: Role;
  functions?: string[];
}

export interface SignerOptions {
  kid: string;
  privateKey: KeyObject;
  issuer: string;
  audience: string;
  ttlSec: number;
  now?: () => number;
}

export interface Signer {
  kid: string;
  /** Issues a token for the principal; `expiresAt` is unix ms. */
  sign(principal: Pick<Principal, "id" | "role" | "functions">): { token: string; expiresAt: number };
}

const b64url = (data: string | Buffer) => Buffer.from(data).toString("base64url");

export function createSigner(opts: SignerOptions): Signer {
  if (opts.privateKey.asymmetricKeyType !== "ed25519")
    throw new Error("createSigner: the key must be an Ed25519 private key");
  const now = opts.now ?? Date.now;
  const header = b64url(JSON.stringify({ alg: "EdDSA", typ: "JWT", kid: opts.kid }));
  return {
    kid: opts.kid,
    sign(principal) {
      const iat = Math.floor(now() / 1000);
      const claims: JwtClaims = {
        iss: opts.issuer,
        aud: opts.audience,
        sub: principal.id,
        iat,
        nbf: iat,
        exp: iat + opts.ttlSec,
        jti: uuidv7(),
        role: principal.role,
        ...(principal.functions ? { functions: principal.functions } : {}),
      };
      const input = `${header}.${b64url(JSON.stringify(claims))}`;
      const signature = edSign(null, Buffer.from(input), opts.privateKey).toString("base64url");
      return { token: `${input}.${signature}`, expiresAt: claims.exp * 1000 };
    },
  };
}

export interface VerifyOptions {
  /** Accepted public keys by kid: this node's, and e.g. the server's on an edge node. */
  keys: ReadonlyMap<string, KeyObject>;
  issuer: string | readonly string[];
  audience: string;
  clockSkewSec?: number;
  /** unix ms; defaults to Date.now() */
  now?: number;
}

// A real token is a few hundred bytes; refuse large input before decoding any of it.
const MAX_TOKEN_LENGTH = 8192;
const SEGMENT = /^[A-Za-z0-9_-]+$/;
// Header parameters we understand; `crit` or key-carrying ones (jwk, jku, x5u, x5c) are refused
// outright so no future change can start trusting a key named by the token itself.
const ALLOWED_HEADER = new Set(["alg", "typ", "kid"]);

/**
 * Verifies an EdDSA (Ed25519) JWT with node:crypto only, offline. Only `alg: EdDSA` and
 * `typ: JWT` are accepted, whatever the header says, and the key is chosen by `kid` from
 * `keys` — never derived from the token — so `none` and HS/RS confusion cannot happen.
 * The signature is checked before any claim, so unsigned input learns nothing about claims.
 */
export function verifyJwt(token: string, opts: VerifyOptions): JwtClaims {
  const fail = (reason: AuthFailureReason): never => {
    throw new AuthError(reason);
  };
  if (token.length > MAX_TOKEN_LENGTH) fail("malformed");
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) fail("malformed");
  const [h, p, s] = parts as [string, string, string];

  const header = parseObject(h) ?? fail("malformed");
  if (header.alg !== "EdDSA") fail("alg_not_allowed");
  if (header.typ !== "JWT") fail("typ_invalid");
  if (Object.keys(header).some((k) => !ALLOWED_HEADER.has(k))) fail("header_invalid");
  const kid = header.kid;
  if (typeof kid !== "string" || kid.length === 0) fail("kid_missing");
  const key = opts.keys.get(kid as string) ?? fail("kid_unknown");
  if (key.asymmetricKeyType !== "ed25519") fail("alg_not_allowed");

  const signature = Buffer.from(s, "base64url");
  if (signature.length !== 64 || !safeVerify(Buffer.from(`${h}.${p}`), key, signature))
    fail("signature_invalid");

  const claims = parseObject(p) ?? fail("malformed");
  const nowSec = (opts.now ?? Date.now()) / 1000;
  const skew = opts.clockSkewSec ?? 30;
  if (!isTime(claims.exp)) fail("claims_invalid");
  if (nowSec >= (claims.exp as number) + skew) fail("expired");
  if (claims.nbf !== undefined && (!isTime(claims.nbf) || (claims.nbf as number) > nowSec + skew))
    fail("not_yet_valid");
  if (claims.iat !== undefined && (!isTime(claims.iat) || (claims.iat as number) > nowSec + skew))
    fail("not_yet_valid");
  const issuers: readonly string[] = typeof opts.issuer === "string" ? [opts.issuer] : opts.issuer;
  if (typeof claims.iss !== "string" || !issuers.includes(claims.iss)) fail("issuer_invalid");
  const aud = claims.aud;
  if (!(aud === opts.audience || (Array.isArray(aud) && aud.includes(opts.audience))))
    fail("audience_invalid");
  if (typeof claims.sub !== "string" || claims.sub.length === 0) fail("claims_invalid");
  if (!ROLES.includes(claims.role as Role)) fail("claims_invalid");
  const fns = claims.functions;
  if (fns !== undefined && !(Array.isArray(fns) && fns.every((f) => typeof f === "string")))
    fail("claims_invalid");
  return claims as unknown as JwtClaims;
}

/** The principal a verified token stands for. */
export function principalFromClaims(claims: JwtClaims): Principal {
  return {
    id: claims.sub,
    role: claims.role,
    ...(claims.functions ? { functions: claims.functions } : {}),
    via: "jwt",
  };
}

function parseObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    return value && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function safeVerify(data: Buffer, key: KeyObject, signature: Buffer): boolean {
  try {
    return edVerify(null, data, key, signature);
  } catch {
    return false;
  }
}

const isTime = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v);
