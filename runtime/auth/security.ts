import type { KeyObject } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AuditLog, createAuditLog } from "../audit/log.ts";
import type { Config } from "../config.ts";
import type { Database } from "../db.ts";
import type { Logger } from "../log.ts";
import type { Authenticate } from "../platform.ts";
import { createAuthenticator } from "./authenticate.ts";
import { createSigner, type Signer } from "./jwt.ts";
import { createKeyStore, type KeyStore } from "./keys.ts";
import { loadOrCreateSigningKey, loadPublicKeys } from "./signing-keys.ts";

export const JWT_AUDIENCE = "sutazai";
export const issuerFor = (nodeId: string) => `sutazai:${nodeId}`;

/** Everything identity-related a node holds: keys, tokens, the audit log and the authenticator. */
export interface Security {
  keys: KeyStore;
  audit: AuditLog;
  signer: Signer;
  /** public keys this node accepts tokens from (its own; plus its server's once synced) */
  publicKeys: () => ReadonlyMap<string, KeyObject>;
  /** adds trusted token issuers and their keys (an edge trusting its server) */
  trust(issuer: string, keys: Map<string, KeyObject>): void;
  authenticate: Authenticate;
}

export async function createSecurity(
  database: Database,
  config: Config,
  nodeId: string,
  log: Logger,
): Promise<Security> {
  const audit = createAuditLog(database, { log });
  const keys = createKeyStore(database.db, { log, audit });
  const signing = await loadOrCreateSigningKey(database.db);
  const trusted = await loadPublicKeys(database.db);
  const issuers = [issuerFor(nodeId)];
  const signer = createSigner({
    kid: signing.kid,
    privateKey: signing.privateKey,
    issuer: issuerFor(nodeId),
    audience: JWT_AUDIENCE,
    ttlSec: config.tokenTtlSec,
  });
  const authenticate = createAuthenticator({
    keys,
    jwt: { keys: () => trusted, issuer: issuers, audience: JWT_AUDIENCE },
    audit,
    log,
  });
  return {
    keys,
    audit,
    signer,
    publicKeys: () => trusted,
    trust(issuer, more) {
      if (!issuers.includes(issuer)) issuers.push(issuer);
      for (const [kid, key] of more) trusted.set(kid, key);
    },
    authenticate,
  };
}

/**
 * First start without an admin: make one. SUTAZAI_ADMIN_KEY supplies the secret; otherwise
 * a fresh one goes to <data-dir>/admin.key (mode 0600) and only its path is logged.
 */
export async function bootstrapAdmin(security: Security, config: Config, log: Logger): Promise<void> {
  if (config.adminKey) {
    await security.keys.adopt(config.adminKey, {
      name: "admin (SUTAZAI_ADMIN_KEY)",
      role: "admin",
      createdBy: "bootstrap",
    });
    return;
  }
  if ((await security.keys.countAdmins()) > 0) return;
  const created = await security.keys.create({
    name: "bootstrap admin",
    role: "admin",
    createdBy: "bootstrap",
  });
  const path = join(config.dataDir, "admin.key");
  writeFileSync(path, `${created.secret}\n`, { mode: 0o600 });
  log.info("created the first admin key", { path, keyId: created.id, prefix: created.prefix });
}
