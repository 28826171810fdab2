import { integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * API keys. Only a SHA-256 of the secret is stored: the secret carries 256 bits of
 * entropy, so a fast hash is enough (no password-style KDF) and it can be indexed for
 * an O(log n) lookup. `prefix` is the public, recognisable part (`sk_sutazai_1a2b3c4d`)
 * an operator can quote in a ticket without revealing anything.
 */
export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(), // UUIDv7; also the principal id of the key
    name: text("name").notNull(),
    prefix: text("prefix").notNull(),
    secretHash: text("secret_hash").notNull(), // sha256 hex of the whole secret
    role: text("role").notNull(),
    functions: text("functions"), // JSON array of function names, or null = no grant list
    createdAt: integer("created_at").notNull(), // unix ms
    expiresAt: integer("expires_at"),
    revokedAt: integer("revoked_at"),
    lastUsedAt: integer("last_used_at"), // updated at most once a minute per key
    createdBy: text("created_by").notNull(), // principal id of the creator
  },
  (t) => [uniqueIndex("api_keys_secret_hash").on(t.secretHash)],
);

export type ApiKeyRow = typeof apiKeys.$inferSelect;

/**
 * The node's JWT signing keys (Ed25519). The newest row signs; every row verifies, so a
 * rotation does not invalidate tokens issued just before it.
 */
export const signingKeys = sqliteTable("signing_keys", {
  kid: text("kid").primaryKey(), // RFC 7638 JWK thumbprint of the public key
  alg: text("alg").notNull().default("EdDSA"),
  publicJwk: text("public_jwk").notNull(), // JSON {kty, crv, x}
  privatePkcs8: text("private_pkcs8").notNull(), // PEM
  createdAt: integer("created_at").notNull(),
});

export type SigningKeyRow = typeof signingKeys.$inferSelect;
