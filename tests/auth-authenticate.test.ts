import { Hono } from "hono";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type AuditLog, createAuditLog } from "../runtime/audit/log.ts";
import { createAuthenticator } from "../runtime/auth/authenticate.ts";
import { createSigner, type Signer } from "../runtime/auth/jwt.ts";
import { createKeyStore, type KeyStore } from "../runtime/auth/keys.ts";
import { loadOrCreateSigningKey, loadPublicKeys } from "../runtime/auth/signing-keys.ts";
import { type Database, openDatabase } from "../runtime/db.ts";
import { problemResponse, toAppError } from "../runtime/http/error-handler.ts";
import { applyMigrations } from "../runtime/migrate.ts";
import type { AppEnv } from "../runtime/platform.ts";

let database: Database;
let keys: KeyStore;
let audit: AuditLog;
let signer: Signer;
let app: Hono<AppEnv>;

beforeEach(async () => {
  database = await openDatabase(":memory:");
  await applyMigrations(database);
  keys = createKeyStore(database.db);
  audit = createAuditLog(database);
  const signing = await loadOrCreateSigningKey(database.db);
  const jwtKeys = await loadPublicKeys(database.db);
  signer = createSigner({
    kid: signing.kid,
    privateKey: signing.privateKey,
    issuer: "node-a",
    audience: "sutazai",
    ttlSec: 900,
  });
  const authenticate = createAuthenticator({
    keys,
    audit,
    jwt: { keys: jwtKeys, issuer: "node-a", audience: "sutazai" },
  });
  app = new Hono<AppEnv>();
  app.onError((err) => problemResponse(toAppError(err)));
  app.get("/whoami", async (c) => c.json(await authenticate(c)));
});
afterEach(() => database.close());

const call = (authorization?: string) =>
  app.request("/whoami", { headers: authorization === undefined ? {} : { authorization } });

async function expect401(res: Response, reason: string) {
  expect(res.status).toBe(401);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
  expect(((await res.json()) as { code: string }).code).toBe("UNAUTHENTICATED");
  const { entries } = await audit.query({ action: "auth.failed", order: "desc", limit: 1 });
  expect(entries[0]).toMatchObject({ actor: "anonymous", outcome: "denied", target: "GET /whoami" });
  expect(entries[0]?.details?.reason).toBe(reason);
}

describe("authenticate", () => {
  it("accepts an API key and a JWT minted from it", async () => {
    const key = await keys.create({ name: "op", role: "operator", createdBy: "system" });
    const res = await call(`Bearer ${key.secret}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: key.id, role: "operator", via: "key" });
    const { token } = signer.sign({ id: key.id, role: "operator" });
    for (let i = 0; i < 2; i++) {
      // the second call is served from the verified-token cache
      const viaJwt = await call(`bearer  ${token}`);
      expect(await viaJwt.json()).toEqual({ id: key.id, role: "operator", via: "jwt" });
    }
  });

  it("refuses a missing or non-Bearer credential with a challenge and an audit entry", async () => {
    await expect401(await call(), "missing");
    await expect401(await call("Basic dXNlcjpwYXNz"), "malformed");
    await expect401(await call("Bearer"), "malformed");
    await expect401(await call("Bearer a b"), "malformed");
    await expect401(await call("Bearer nonsense"), "malformed");
  });

  it("refuses revoked and unknown keys, auditing the public prefix but never the secret", async () => {
    const key = await keys.create({ name: "op", role: "operator", createdBy: "system" });
    const { token } = signer.sign({ id: key.id, role: "operator" });
    expect((await call(`Bearer ${token}`)).status).toBe(200);
    await keys.revoke(key.id);
    await expect401(await call(`Bearer ${key.secret}`), "key_revoked");
    await expect401(await call(`Bearer ${token}`), "key_revoked"); // its JWT dies with it here
    await expect401(await call(`Bearer ${key.secret.slice(0, -2)}xx`), "unknown_key");
    const rows = await database.client.execute("SELECT * FROM audit_log");
    const text = JSON.stringify(rows.rows);
    expect(text).toContain(key.prefix);
    expect(text).not.toContain(key.secret.slice(key.prefix.length + 1, key.prefix.length + 20));
    expect(text).not.toContain(token.split(".")[2]!);
  });

  it("refuses bad JWTs with their reason", async () => {
    const { token } = signer.sign({ id: "k", role: "admin" });
    const [h, p, s] = token.split(".");
    await expect401(await call(`Bearer ${h}.${p}.${s!.slice(0, -4)}AAAA`), "signature_invalid");
    await expect401(await call(`Bearer ${h}.${p}.`), "malformed");
  });

  it("still answers 401, not 500, when the audit write fails", async () => {
    const failing = createAuthenticator({
      keys,
      audit: { append: () => Promise.reject(new Error("disk full")) },
    });
    const bare = new Hono<AppEnv>();
    bare.onError((err) => problemResponse(toAppError(err)));
    bare.get("/x", async (c) => c.json(await failing(c)));
    expect((await bare.request("/x")).status).toBe(401);
    // No JWT configuration: tokens are refused, not crashed on.
    expect((await bare.request("/x", { headers: { authorization: "Bearer a.b.c" } })).status).toBe(401);
  });
});
