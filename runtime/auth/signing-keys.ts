import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { desc, sql } from "drizzle-orm";
import { signingKeys } from "../../schema/auth.ts";
import type { Db } from "../db.ts";

export interface PublicJwk {
  kty: "OKP";
  crv: "Ed25519";
  x: string;
}

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: PublicJwk;
}

export interface Jwks {
  keys: Array<PublicJwk & { kid: string; alg: "EdDSA"; use: "sig" }>;
}

/**
 * The node's Ed25519 signing key: the newest row of `signing_keys`, created on first start.
 * The insert only happens while the table is empty, in one statement, so processes that
 * start together on a shared database end up with the same key instead of one each.
 */
export async function loadOrCreateSigningKey(db: Db, now: number = Date.now()): Promise<SigningKey> {
  const existing = await newestKey(db);
  if (existing) return existing;
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const jwk = toPublicJwk(publicKey);
  const pem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  await db.run(sql`
    INSERT INTO signing_keys (kid, alg, public_jwk, private_pkcs8, created_at)
    SELECT ${jwkThumbprint(jwk)}, 'EdDSA', ${JSON.stringify(jwk)}, ${pem}, ${now}
    WHERE NOT EXISTS (SELECT 1 FROM signing_keys)`);
  const created = await newestKey(db);
  if (!created) throw new Error("signing key was not stored");
  return created;
}

/** Every stored public key by kid: tokens signed by an older (rotated) key still verify. */
export async function loadPublicKeys(db: Db): Promise<Map<string, KeyObject>> {
  const rows = await db.select({ kid: signingKeys.kid, jwk: signingKeys.publicJwk }).from(signingKeys);
  return new Map(rows.map((r) => [r.kid, importPublicJwk(JSON.parse(r.jwk) as PublicJwk)]));
}

/** The JSON Web Key Set for /.well-known/jwks.json. Public halves only. */
export function toJwks(keys: Iterable<[kid: string, publicKey: KeyObject]>): Jwks {
  return { keys: [...keys].map(([kid, key]) => ({ ...toPublicJwk(key), kid, alg: "EdDSA", use: "sig" })) };
}

/** Imports a peer's public JWK (e.g. the server's, fetched once by an edge node) for offline verification. */
export function importPublicJwk(jwk: PublicJwk): KeyObject {
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.x !== "string")
    throw new Error("not an Ed25519 public JWK");
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: jwk.x }, format: "jwk" });
}

/** RFC 7638 thumbprint: a kid derived from the key itself, unique across nodes without coordination. */
export function jwkThumbprint(jwk: PublicJwk): string {
  const canonical = `{"crv":"${jwk.crv}","kty":"${jwk.kty}","x":"${jwk.x}"}`;
  return createHash("sha256").update(canonical).digest("base64url");
}

function toPublicJwk(key: KeyObject): PublicJwk {
  const jwk = key.export({ format: "jwk" });
  return { kty: "OKP", crv: "Ed25519", x: String(jwk.x) };
}

async function newestKey(db: Db): Promise<SigningKey | undefined> {
  const [row] = await db
    .select()
    .from(signingKeys)
    .orderBy(desc(signingKeys.createdAt), desc(signingKeys.kid))
    .limit(1);
  if (!row) return undefined;
  const privateKey = createPrivateKey(row.privatePkcs8);
  const publicKey = createPublicKey(privateKey);
  return { kid: row.kid, privateKey, publicKey, jwk: toPublicJwk(publicKey) };
}
