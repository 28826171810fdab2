import { createHmac, createPublicKey, verify as edVerify, generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEntry } from "../runtime/audit/log.ts";
import {
  bearer,
  claimsFor,
  expectProblem,
  nodeSigningKey,
  rawJwt,
  signedToken,
  tokenFor,
} from "./support/security-helpers.ts";
import { jsonPost, startTestNode, type TestNode } from "./support/test-node.ts";

/**
 * Hostile credentials against the real app: each must get 401 problem+json with code
 * UNAUTHENTICATED and a WWW-Authenticate challenge, leave an `auth.failed` audit entry
 * with its reason, and never a 500. Then the positive paths, and the audit log is
 * searched for every secret this file used.
 */
let node: TestNode;
let other: TestNode; // a second, unrelated node: its keys and tokens mean nothing here
let operator: { id: string; secret: string };
const secretsSeen = new Set<string>();

beforeAll(async () => {
  [node, other] = await Promise.all([startTestNode({ worker: false }), startTestNode({ worker: false })]);
  operator = await node.platform.security.keys.create({
    name: "op",
    role: "operator",
    createdBy: "security-test",
  });
  secretsSeen.add(operator.secret);
  secretsSeen.add(node.adminKey);
});
afterAll(async () => {
  await Promise.all([node?.dispose(), other?.dispose()]);
});

const PATH = "/v1/functions";

async function lastAuthFailure(): Promise<AuditEntry> {
  await node.platform.security.audit.flush();
  const { entries } = await node.platform.security.audit.query({
    action: "auth.failed",
    order: "desc",
    limit: 1,
  });
  expect(entries).toHaveLength(1);
  return entries[0]!;
}

/** Sends `authorization` (or none) and asserts the full refusal contract. */
async function expectRefused(authorization: string | undefined, reason: string, path = PATH) {
  if (authorization) secretsSeen.add(authorization.replace(/^\S+\s+/, ""));
  const before = (await lastAuthFailureSeq()) ?? 0;
  const res = await node.app.request(path, { headers: authorization === undefined ? {} : { authorization } });
  expect(res.status).toBe(401);
  expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="sutazai"/);
  const problem = await expectProblem(res, 401, "UNAUTHENTICATED");
  // The answer says what is wrong without echoing the credential back.
  if (authorization && authorization.length > 12)
    expect(problem.detail).not.toContain(authorization.slice(7));
  const entry = await lastAuthFailure();
  expect(entry.seq).toBeGreaterThan(before);
  expect(entry).toMatchObject({ actor: "anonymous", outcome: "denied", target: `GET ${path}` });
  expect(entry.details?.reason).toBe(reason);
  return entry;
}

async function lastAuthFailureSeq(): Promise<number | undefined> {
  await node.platform.security.audit.flush();
  const { entries } = await node.platform.security.audit.query({
    action: "auth.failed",
    order: "desc",
    limit: 1,
  });
  return entries[0]?.seq;
}

describe("missing and malformed headers", () => {
  it.each([
    ["no Authorization header", undefined, "missing"],
    ["a bare `Bearer`", "Bearer", "malformed"],
    ["`Bearer ` with only spaces", "Bearer    ", "malformed"],
    ["Basic credentials", "Basic dXNlcjpwYXNzd29yZA==", "malformed"],
    ["Basic with the real admin key", () => `Basic ${node.adminKey}`, "malformed"],
    ["two tokens", "Bearer abc def", "malformed"],
    ["garbage", "!!!***%%%", "malformed"],
    ["a random word as a bearer token", "Bearer hunter2", "malformed"],
    ["a key-shaped but invalid secret", "Bearer sk_sutazai_zzzz", "unknown_key"],
    ["a well-formed unknown key", `Bearer sk_sutazai_0badc0de_${"A".repeat(43)}`, "unknown_key"],
    ["a very long header", `Bearer ${"x".repeat(16_000)}`, "malformed"],
    ["three dots of garbage", "Bearer a.b.c", "malformed"],
    ["a JWT far too long", `Bearer ${"a".repeat(9000)}.${"b".repeat(10)}.${"c".repeat(10)}`, "malformed"],
  ] as Array<[string, string | (() => string) | undefined, string]>)(
    "%s → 401",
    async (_name, authorization, reason) => {
      await expectRefused(typeof authorization === "function" ? authorization() : authorization, reason);
    },
  );

  it("audits only the public prefix of a well-formed unknown key", async () => {
    const fake = `sk_sutazai_0badc0de_${"B".repeat(43)}`;
    const entry = await expectRefused(`Bearer ${fake}`, "unknown_key");
    expect(entry.details).toMatchObject({ credential: "key", keyPrefix: "sk_sutazai_0badc0de" });
    expect(JSON.stringify(entry)).not.toContain("B".repeat(43));
  });
});

describe("hostile tokens", () => {
  it("alg: none, unsigned → 401", async () => {
    const claims = claimsFor(node, { id: operator.id, role: "admin" });
    const { kid } = await nodeSigningKey(node);
    // With an empty signature segment the token is refused before its header is read.
    await expectRefused(
      `Bearer ${rawJwt({ alg: "none", typ: "JWT", kid }, claims, { text: "" })}`,
      "malformed",
    );
    // With some signature text, the header is read and `none` is refused by name.
    await expectRefused(
      `Bearer ${rawJwt({ alg: "none", typ: "JWT", kid }, claims, { text: "AAAA" })}`,
      "alg_not_allowed",
    );
    await expectRefused(
      `Bearer ${rawJwt({ alg: "None", typ: "JWT" }, claims, { text: "AAAA" })}`,
      "alg_not_allowed",
    );
  });

  it("HS256 signed with the node's public key as the HMAC secret (alg confusion) → 401", async () => {
    const jwks = (await (await node.anonymous("/.well-known/jwks.json")).json()) as {
      keys: Array<{ kid: string; x: string }>;
    };
    const { kid, x } = jwks.keys[0]!;
    const header = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT", kid })).toString("base64url");
    const payload = Buffer.from(JSON.stringify(claimsFor(node, { id: operator.id, role: "admin" }))).toString(
      "base64url",
    );
    const mac = createHmac("sha256", Buffer.from(x, "base64url"))
      .update(`${header}.${payload}`)
      .digest("base64url");
    await expectRefused(`Bearer ${header}.${payload}.${mac}`, "alg_not_allowed");
  });

  it("forged signature → 401", async () => {
    const token = await tokenFor(node, operator.secret);
    const [h, p, s] = token.split(".") as [string, string, string];
    const flipped = Buffer.from(s, "base64url");
    flipped[0] = flipped[0]! ^ 0xff;
    await expectRefused(`Bearer ${h}.${p}.${flipped.toString("base64url")}`, "signature_invalid");
  });

  it("edited payload (role escalated to admin) with the original signature → 401", async () => {
    const token = await tokenFor(node, operator.secret);
    const [h, p, s] = token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
    const escalated = Buffer.from(JSON.stringify({ ...claims, role: "admin" })).toString("base64url");
    await expectRefused(`Bearer ${h}.${escalated}.${s}`, "signature_invalid");
  });

  it("a token signed by an unknown key that names the node's kid → 401", async () => {
    const { kid } = await nodeSigningKey(node);
    const { privateKey } = generateKeyPairSync("ed25519");
    const token = rawJwt(
      { alg: "EdDSA", typ: "JWT", kid },
      claimsFor(node, { id: operator.id, role: "admin" }),
      { privateKey },
    );
    await expectRefused(`Bearer ${token}`, "signature_invalid");
  });

  it("a token carrying its own key (jwk header) → 401", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const jwk = publicKey.export({ format: "jwk" });
    const token = rawJwt(
      { alg: "EdDSA", typ: "JWT", kid: "mine", jwk },
      claimsFor(node, { id: operator.id, role: "admin" }),
      {
        privateKey,
      },
    );
    await expectRefused(`Bearer ${token}`, "header_invalid");
  });

  it("wrong audience → 401", async () => {
    const token = await signedToken(
      node,
      { id: operator.id, role: "operator" },
      { audience: "someone-else" },
    );
    await expectRefused(`Bearer ${token}`, "audience_invalid");
  });

  it("wrong issuer, signed with the node's own key → 401", async () => {
    const token = await signedToken(
      node,
      { id: operator.id, role: "operator" },
      { issuer: "sutazai:elsewhere" },
    );
    await expectRefused(`Bearer ${token}`, "issuer_invalid");
  });

  it("expired (beyond the clock-skew allowance) → 401", async () => {
    const token = await signedToken(
      node,
      { id: operator.id, role: "operator" },
      { clockOffsetMs: -3_600_000, ttlSec: 60 },
    );
    await expectRefused(`Bearer ${token}`, "expired");
  });

  it("not yet valid (issued an hour in the future) → 401", async () => {
    const token = await signedToken(
      node,
      { id: operator.id, role: "operator" },
      { clockOffsetMs: 3_600_000 },
    );
    await expectRefused(`Bearer ${token}`, "not_yet_valid");
  });

  it("a few seconds of clock skew is tolerated", async () => {
    const token = await signedToken(node, { id: operator.id, role: "operator" }, { clockOffsetMs: 5_000 });
    expect((await node.app.request(PATH, { headers: bearer(token) })).status).toBe(200);
  });

  it("well-signed but with an unknown role → 401", async () => {
    const { kid, privateKey } = await nodeSigningKey(node);
    const token = rawJwt(
      { alg: "EdDSA", typ: "JWT", kid },
      { ...claimsFor(node, { id: operator.id, role: "admin" }), role: "root" },
      { privateKey },
    );
    await expectRefused(`Bearer ${token}`, "claims_invalid");
  });

  it("a JWT from another node → 401", async () => {
    const foreignKey = await other.platform.security.keys.create({
      name: "foreign",
      role: "admin",
      createdBy: "security-test",
    });
    const foreignToken = await tokenFor(other, foreignKey.secret);
    // It is a perfectly good token on its own node...
    expect((await other.app.request(PATH, { headers: bearer(foreignToken) })).status).toBe(200);
    // ...and worthless here: this node does not know the key it was signed with.
    await expectRefused(`Bearer ${foreignToken}`, "kid_unknown");
  });
});

describe("hostile API keys", () => {
  it("a key from another node → 401", async () => {
    const foreign = await other.platform.security.keys.create({
      name: "foreign",
      role: "admin",
      createdBy: "security-test",
    });
    expect((await other.app.request(PATH, { headers: bearer(foreign.secret) })).status).toBe(200);
    await expectRefused(`Bearer ${foreign.secret}`, "unknown_key");
    await expectRefused(`Bearer ${other.adminKey}`, "unknown_key");
  });

  it("a tampered secret (one character changed) → 401", async () => {
    const last = operator.secret.at(-1) === "A" ? "B" : "A";
    await expectRefused(`Bearer ${operator.secret.slice(0, -1)}${last}`, "unknown_key");
  });

  it("a revoked key is refused immediately, and so is a JWT minted from it", async () => {
    const key = await node.platform.security.keys.create({
      name: "soon revoked",
      role: "operator",
      createdBy: "security-test",
    });
    secretsSeen.add(key.secret);
    const token = await tokenFor(node, key.secret);
    // Both work, and the key is now in the verified-key cache.
    expect((await node.app.request(PATH, { headers: bearer(key.secret) })).status).toBe(200);
    expect((await node.app.request(PATH, { headers: bearer(token) })).status).toBe(200);
    const revoke = await node.request(`/v1/keys/${key.id}`, { method: "DELETE" });
    expect(revoke.status).toBe(200);
    expect(((await revoke.json()) as { revokedAt: string | null }).revokedAt).not.toBeNull();
    // The very next request, with no wait: refused.
    await expectRefused(`Bearer ${key.secret}`, "key_revoked");
    await expectRefused(`Bearer ${token}`, "key_revoked");
    await node.platform.security.audit.flush();
    const { entries } = await node.platform.security.audit.query({
      action: "key.revoked",
      order: "desc",
      limit: 1,
    });
    expect(entries[0]).toMatchObject({ target: key.id, outcome: "success" });
  });

  it("an expired key → 401", async () => {
    const key = await node.platform.security.keys.create({
      name: "short-lived",
      role: "operator",
      expiresAt: Date.now() + 150,
      createdBy: "security-test",
    });
    secretsSeen.add(key.secret);
    expect((await node.app.request(PATH, { headers: bearer(key.secret) })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    await expectRefused(`Bearer ${key.secret}`, "key_expired");
  });

  it("a key that expired before it was ever used → 401", async () => {
    const key = await node.platform.security.keys.create({
      name: "lapsed",
      role: "operator",
      createdBy: "security-test",
    });
    secretsSeen.add(key.secret);
    await node.platform.database.client.execute({
      sql: "UPDATE api_keys SET expires_at = ? WHERE id = ?",
      args: [Date.now() - 1000, key.id],
    });
    await expectRefused(`Bearer ${key.secret}`, "key_expired");
  });

  it("hostile credentials on a write endpoint change nothing", async () => {
    const res = await node.app.request("/v1/keys", {
      ...jsonPost({ name: "intruder", role: "admin" }),
      headers: { "content-type": "application/json", authorization: "Bearer sk_sutazai_deadbeef_x" },
    });
    await expectProblem(res, 401, "UNAUTHENTICATED");
    expect((await node.platform.security.keys.list()).some((k) => k.name === "intruder")).toBe(false);
  });

  it("public paths ignore a hostile credential rather than failing", async () => {
    for (const path of ["/healthz", "/readyz", "/openapi.json", "/docs", "/.well-known/jwks.json"]) {
      const res = await node.app.request(path, { headers: { authorization: "Bearer a.b.c" } });
      expect(res.status, path).toBe(200);
    }
  });
});

describe("the positive paths", () => {
  it("an API key works", async () => {
    const res = await node.app.request(PATH, { headers: bearer(operator.secret) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { functions: unknown[] }).functions.length).toBeGreaterThan(0);
  });

  it("POST /v1/auth/token returns a short-lived EdDSA JWT that works and names the caller", async () => {
    const res = await node.app.request("/v1/auth/token", {
      method: "POST",
      headers: bearer(operator.secret),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { token: string; tokenType: string; expiresAt: string };
    secretsSeen.add(body.token);
    expect(body.tokenType).toBe("Bearer");
    const ttl = Date.parse(body.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(900_000);
    const [h, p] = body.token.split(".") as [string, string];
    expect(JSON.parse(Buffer.from(h, "base64url").toString())).toMatchObject({ alg: "EdDSA", typ: "JWT" });
    expect(JSON.parse(Buffer.from(p, "base64url").toString())).toMatchObject({
      sub: operator.id,
      role: "operator",
      aud: "sutazai",
    });
    expect((await node.app.request(PATH, { headers: bearer(body.token) })).status).toBe(200);
    // A token cannot mint further tokens.
    await expectProblem(
      await node.app.request("/v1/auth/token", { method: "POST", headers: bearer(body.token) }),
      400,
      "API_KEY_REQUIRED",
    );
  });

  it("the JWKS lists the signing key, and it verifies the token offline", async () => {
    const token = await tokenFor(node, operator.secret);
    secretsSeen.add(token);
    const res = await node.anonymous("/.well-known/jwks.json");
    expect(res.status).toBe(200);
    const jwks = (await res.json()) as { keys: Array<Record<string, string>> };
    const [h, p, s] = token.split(".") as [string, string, string];
    const { kid } = JSON.parse(Buffer.from(h, "base64url").toString()) as { kid: string };
    const jwk = jwks.keys.find((k) => k.kid === kid);
    expect(jwk).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig" });
    expect(jwk).not.toHaveProperty("d"); // public half only
    const publicKey = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: jwk!.x! }, format: "jwk" });
    expect(edVerify(null, Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s, "base64url"))).toBe(true);
  });

  it("the admin key from admin.key works", async () => {
    expect((await node.request("/v1/keys")).status).toBe(200);
  });
});

describe("the audit trail of all this", () => {
  it("holds no secret or token, in any stored row", async () => {
    await node.platform.security.audit.flush();
    const rows = await node.platform.database.client.execute("SELECT * FROM audit_log ORDER BY seq");
    const text = JSON.stringify(rows.rows);
    expect(rows.rows.length).toBeGreaterThan(20);
    for (const secret of secretsSeen) {
      if (secret.length < 12) continue; // "Bearer", "hunter2": too short to mean anything
      // Tokens: no signature part may appear either (the part nobody else can produce).
      const needle = secret.split(".").length === 3 ? secret.split(".")[2]! : secret;
      if (needle.length < 12) continue;
      expect(text.includes(needle), `audit log contains ${needle.slice(0, 16)}…`).toBe(false);
    }
    expect(text).not.toContain(node.adminKey);
    expect(text).not.toContain(operator.secret);
  });

  it("GET /v1/audit shows the refusals with their reasons to an auditor", async () => {
    const auditor = await node.platform.security.keys.create({
      name: "aud",
      role: "auditor",
      createdBy: "security-test",
    });
    const res = await node.app.request("/v1/audit?action=auth.failed&limit=1000", {
      headers: bearer(auditor.secret),
    });
    expect(res.status).toBe(200);
    const { entries } = (await res.json()) as { entries: Array<{ details: { reason: string } }> };
    const reasons = new Set(entries.map((e) => e.details.reason));
    for (const reason of [
      "missing",
      "malformed",
      "unknown_key",
      "key_revoked",
      "key_expired",
      "alg_not_allowed",
      "signature_invalid",
      "audience_invalid",
      "issuer_invalid",
      "expired",
      "not_yet_valid",
      "kid_unknown",
      "header_invalid",
      "claims_invalid",
    ]) {
      expect(reasons, reason).toContain(reason);
    }
  });

  it("still verifies as an unbroken chain", async () => {
    expect(await node.platform.security.audit.verify()).toMatchObject({ ok: true });
  });
});
