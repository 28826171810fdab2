import { createHmac, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AuthError } from "../runtime/auth/auth-error.ts";
import { createSigner, principalFromClaims, type VerifyOptions, verifyJwt } from "../runtime/auth/jwt.ts";
import {
  importPublicJwk,
  loadOrCreateSigningKey,
  loadPublicKeys,
  type SigningKey,
  toJwks,
} from "../runtime/auth/signing-keys.ts";
import { type Database, openDatabase } from "../runtime/db.ts";
import { applyMigrations } from "../runtime/migrate.ts";

let database: Database;
let node: SigningKey;
let opts: VerifyOptions;
const T0 = Date.parse("2030-01-01T00:00:00Z");
const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

beforeEach(async () => {
  database = await openDatabase(":memory:");
  await applyMigrations(database);
  node = await loadOrCreateSigningKey(database.db, T0);
  opts = { keys: await loadPublicKeys(database.db), issuer: "sutazai:node-a", audience: "sutazai", now: T0 };
});
afterEach(() => database.close());

const signer = (over: Partial<Parameters<typeof createSigner>[0]> = {}) =>
  createSigner({
    kid: node.kid,
    privateKey: node.privateKey,
    issuer: "sutazai:node-a",
    audience: "sutazai",
    ttlSec: 900,
    now: () => T0,
    ...over,
  });

/** A token with any header and claims, signed by `key` with Ed25519 (or unsigned). */
function craft(header: object, claims: object, key: KeyObject | null = node.privateKey): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${key ? sign(null, Buffer.from(input), key).toString("base64url") : ""}`;
}
const goodHeader = () => ({ alg: "EdDSA", typ: "JWT", kid: node.kid });
const goodClaims = (over: object = {}) => ({
  iss: "sutazai:node-a",
  aud: "sutazai",
  sub: "key-1",
  iat: T0 / 1000,
  exp: T0 / 1000 + 900,
  role: "operator",
  ...over,
});

function reasonOf(token: string, o: VerifyOptions = opts): string {
  try {
    verifyJwt(token, o);
  } catch (err) {
    expect(err).toBeInstanceOf(AuthError);
    const e = err as AuthError;
    expect(e.status).toBe(401);
    expect(e.code).toBe("UNAUTHENTICATED");
    expect(e.headers?.["WWW-Authenticate"]).toMatch(/^Bearer /);
    if (token.length >= 20) expect(JSON.stringify(e.toProblem())).not.toContain(token.slice(0, 20));
    return e.reason;
  }
  return "accepted";
}

describe("EdDSA JWT", () => {
  it("round-trips a signed principal", () => {
    const { token, expiresAt } = signer().sign({ id: "key-1", role: "device", functions: ["echo"] });
    expect(expiresAt).toBe(T0 + 900_000);
    const claims = verifyJwt(token, opts);
    expect(claims).toMatchObject({
      iss: "sutazai:node-a",
      aud: "sutazai",
      sub: "key-1",
      role: "device",
      exp: T0 / 1000 + 900,
    });
    expect(principalFromClaims(claims)).toEqual({
      id: "key-1",
      role: "device",
      functions: ["echo"],
      via: "jwt",
    });
    const header = JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString());
    expect(header).toEqual({ alg: "EdDSA", typ: "JWT", kid: node.kid });
  });

  it("refuses alg none, with or without a signature", () => {
    const none = craft({ alg: "none", typ: "JWT", kid: node.kid }, goodClaims(), null);
    expect(["malformed", "alg_not_allowed"]).toContain(reasonOf(none));
    expect(reasonOf(`${none}AAAA`)).toBe("alg_not_allowed");
    expect(reasonOf(craft({ alg: "NONE", typ: "JWT", kid: node.kid }, goodClaims()))).toBe("alg_not_allowed");
  });

  it("refuses HS256 signed with the public key as the HMAC secret (alg confusion)", () => {
    const input = `${b64({ alg: "HS256", typ: "JWT", kid: node.kid })}.${b64(goodClaims({ role: "admin" }))}`;
    for (const secret of [
      node.publicKey.export({ format: "pem", type: "spki" }),
      node.jwk.x,
      JSON.stringify(node.jwk),
    ]) {
      const mac = createHmac("sha256", secret).update(input).digest("base64url");
      expect(reasonOf(`${input}.${mac}`)).toBe("alg_not_allowed");
    }
  });

  it("refuses RS256 even when properly signed with an RSA key", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const input = `${b64({ alg: "RS256", typ: "JWT", kid: node.kid })}.${b64(goodClaims())}`;
    const sig = sign("sha256", Buffer.from(input), rsa.privateKey).toString("base64url");
    expect(reasonOf(`${input}.${sig}`)).toBe("alg_not_allowed");
  });

  it("refuses a forged signature and an edited payload", () => {
    const { token } = signer().sign({ id: "key-1", role: "device" });
    const [h, p, s] = token.split(".") as [string, string, string];
    const forged = `${h}.${b64({ ...JSON.parse(Buffer.from(p, "base64url").toString()), role: "admin" })}.${s}`;
    expect(reasonOf(forged)).toBe("signature_invalid");
    const flipped = s.slice(0, 10) + (s[10] === "A" ? "B" : "A") + s.slice(11);
    expect(reasonOf(`${h}.${p}.${flipped}`)).toBe("signature_invalid");
    expect(reasonOf(`${h}.${p}.${s.slice(0, 40)}`)).toBe("signature_invalid");
  });

  it("checks issuer and audience", () => {
    expect(reasonOf(signer({ audience: "other-app" }).sign({ id: "k", role: "admin" }).token)).toBe(
      "audience_invalid",
    );
    expect(reasonOf(signer({ issuer: "evil" }).sign({ id: "k", role: "admin" }).token)).toBe(
      "issuer_invalid",
    );
    expect(reasonOf(craft(goodHeader(), goodClaims({ aud: ["x", "sutazai"] })))).toBe("accepted");
    expect(reasonOf(craft(goodHeader(), goodClaims({ iss: undefined })))).toBe("issuer_invalid");
    expect(
      reasonOf(craft(goodHeader(), goodClaims()), { ...opts, issuer: ["sutazai:server", "sutazai:node-a"] }),
    ).toBe("accepted");
  });

  it("checks exp and nbf with a clock-skew allowance", () => {
    const token = signer({ ttlSec: 60 }).sign({ id: "k", role: "operator" }).token;
    expect(reasonOf(token, { ...opts, now: T0 + 60_000 + 29_000 })).toBe("accepted"); // expired 29 s ago: skew
    expect(reasonOf(token, { ...opts, now: T0 + 60_000 + 30_000 })).toBe("expired");
    expect(reasonOf(token, { ...opts, now: T0 + 3_600_000 })).toBe("expired");
    expect(reasonOf(craft(goodHeader(), goodClaims({ nbf: T0 / 1000 + 20 })))).toBe("accepted");
    expect(reasonOf(craft(goodHeader(), goodClaims({ nbf: T0 / 1000 + 31 })))).toBe("not_yet_valid");
    expect(reasonOf(craft(goodHeader(), goodClaims({ iat: T0 / 1000 + 3600 })))).toBe("not_yet_valid");
    expect(reasonOf(craft(goodHeader(), goodClaims({ exp: undefined })))).toBe("claims_invalid");
    expect(reasonOf(craft(goodHeader(), goodClaims({ exp: "never" })))).toBe("claims_invalid");
    expect(reasonOf(token, { ...opts, now: T0 + 60_000 + 1_000, clockSkewSec: 0 })).toBe("expired");
  });

  it("refuses unknown and missing kids, and tokens from another node's key", () => {
    expect(reasonOf(craft({ alg: "EdDSA", typ: "JWT" }, goodClaims()))).toBe("kid_missing");
    expect(reasonOf(craft({ ...goodHeader(), kid: "nope" }, goodClaims()))).toBe("kid_unknown");
    const other = generateKeyPairSync("ed25519");
    const theirs = createSigner({
      kid: "node-b",
      privateKey: other.privateKey,
      issuer: "sutazai:node-a",
      audience: "sutazai",
      ttlSec: 900,
      now: () => T0,
    });
    expect(reasonOf(theirs.sign({ id: "k", role: "admin" }).token)).toBe("kid_unknown");
    // Same kid as ours (a guess or a clash) but their key: the signature does not hold.
    expect(reasonOf(craft(goodHeader(), goodClaims({ role: "admin" }), other.privateKey))).toBe(
      "signature_invalid",
    );
  });

  it("refuses unexpected header parameters and types", () => {
    expect(reasonOf(craft({ alg: "EdDSA", kid: node.kid }, goodClaims()))).toBe("typ_invalid");
    expect(reasonOf(craft({ ...goodHeader(), typ: "at+jwt" }, goodClaims()))).toBe("typ_invalid");
    expect(reasonOf(craft({ ...goodHeader(), jwk: node.jwk }, goodClaims()))).toBe("header_invalid");
    expect(reasonOf(craft({ ...goodHeader(), crit: ["exp"] }, goodClaims()))).toBe("header_invalid");
  });

  it("refuses well-signed tokens with invalid claims", () => {
    expect(reasonOf(craft(goodHeader(), goodClaims({ role: "superuser" })))).toBe("claims_invalid");
    expect(reasonOf(craft(goodHeader(), goodClaims({ sub: "" })))).toBe("claims_invalid");
    expect(reasonOf(craft(goodHeader(), goodClaims({ functions: "echo" })))).toBe("claims_invalid");
    expect(reasonOf(craft(goodHeader(), []))).toBe("malformed");
  });

  it("refuses garbage as malformed, never with another error", () => {
    const garbage = [
      "",
      ".",
      "..",
      "a.b.c",
      "a.b",
      "a.b.c.d",
      "é.é.é",
      `${"a".repeat(9000)}.b.c`,
      "eyJ.eyJ.sig",
      `${b64("[]")}.${b64("{}")}.AAAA`,
      `${b64("null")}.x.y`,
    ];
    for (const token of garbage) expect(reasonOf(token), token.slice(0, 30)).toBe("malformed");
  });
});

describe("signing keys", () => {
  it("creates the node key once and keeps it", async () => {
    const again = await loadOrCreateSigningKey(database.db, T0 + 1000);
    expect(again.kid).toBe(node.kid);
    const [row] = (await database.client.execute("SELECT alg, public_jwk, private_pkcs8 FROM signing_keys"))
      .rows;
    expect(row?.alg).toBe("EdDSA");
    expect(String(row?.private_pkcs8)).toContain("BEGIN PRIVATE KEY");
  });

  it("converges on one key when two processes start at once", async () => {
    const fresh = await openDatabase(":memory:");
    await applyMigrations(fresh);
    const [a, b] = await Promise.all([loadOrCreateSigningKey(fresh.db), loadOrCreateSigningKey(fresh.db)]);
    expect(a.kid).toBe(b.kid);
    expect((await fresh.client.execute("SELECT count(*) AS n FROM signing_keys")).rows[0]?.n).toBe(1);
    fresh.close();
  });

  it("publishes a JWKS that an offline peer can verify with", async () => {
    const jwks = toJwks(await loadPublicKeys(database.db));
    expect(jwks).toEqual({
      keys: [{ kty: "OKP", crv: "Ed25519", x: node.jwk.x, kid: node.kid, alg: "EdDSA", use: "sig" }],
    });
    expect(JSON.stringify(jwks)).not.toMatch(/"d"/);
    // An edge node imports the server's JWKS once and then verifies without a network.
    const peerKeys = new Map(jwks.keys.map((k) => [k.kid, importPublicJwk(k)]));
    const { token } = signer().sign({ id: "key-1", role: "node" });
    expect(verifyJwt(token, { ...opts, keys: peerKeys }).role).toBe("node");
  });
});
