import { timingSafeEqual } from "node:crypto";
import { and, count, eq, gt, isNull, or } from "drizzle-orm";
import { type ApiKeyRow, apiKeys } from "../../schema/auth.ts";
import type { AuditLog } from "../audit/log.ts";
import type { Db } from "../db.ts";
import { ConfigError } from "../errors.ts";
import { uuidv7 } from "../ids.ts";
import type { Logger } from "../log.ts";
import type { AuthFailureReason } from "./auth-error.ts";
import {
  type ApiKeyInfo,
  type CreatedKey,
  type CreateKeyInput,
  hashSecret,
  isKeySecret,
  newSecret,
  parseCreateInput,
  publicPrefix,
  toInfo,
} from "./key-format.ts";
import type { Principal } from "./principal.ts";

export { type ApiKeyInfo, type CreatedKey, type CreateKeyInput, KEY_PREFIX } from "./key-format.ts";

export type KeyCheck = { ok: true; principal: Principal } | { ok: false; reason: AuthFailureReason };

export interface KeyStore {
  create(input: CreateKeyInput): Promise<CreatedKey>;
  /** Stores a secret supplied from outside (SUTAZAI_ADMIN_KEY); idempotent across restarts. */
  adopt(secret: string, input: CreateKeyInput): Promise<ApiKeyInfo>;
  /** The principal for a valid secret, or null. */
  verify(secret: string): Promise<Principal | null>;
  /** Like verify, with the reason a secret was refused (for the audit log). */
  check(secret: string): Promise<KeyCheck>;
  list(): Promise<ApiKeyInfo[]>;
  /** Revokes a key, effective immediately in this process; null if there is no such key. */
  revoke(id: string, revokedBy?: string): Promise<ApiKeyInfo | null>;
  /** Admin keys that are neither revoked nor expired (bootstrap: create one when 0). */
  countAdmins(): Promise<number>;
  /** True if this process saw the key revoked; lets JWTs minted from it die with it. */
  wasRevoked(id: string): boolean;
  /** Whether key `id` exists here and is neither revoked nor expired (queued work re-checks it). */
  isUsable(id: string): Promise<boolean>;
  /** Waits for pending last_used_at writes (shutdown, tests). */
  flush(): Promise<void>;
}

export interface KeyStoreOptions {
  /** How long a verified key is trusted without reading the database again (ms). */
  cacheTtlMs?: number;
  now?: () => number;
  log?: Logger;
  /** Records key.created / key.revoked, so the CLI and the HTTP API audit alike. */
  audit?: Pick<AuditLog, "append">;
}

const TOUCH_INTERVAL_MS = 60_000;

export function createKeyStore(db: Db, opts: KeyStoreOptions = {}): KeyStore {
  const now = opts.now ?? Date.now;
  const ttl = opts.cacheTtlMs ?? 5_000;
  // secret hash -> verified principal. Positive entries only, so its size is bounded by the
  // number of valid keys in use; garbage credentials never grow it.
  const cache = new Map<
    string,
    { principal: Principal; id: string; expiresAt: number | null; until: number }
  >();
  const revoked = new Set<string>();
  const lastTouch = new Map<string, number>();
  const pending = new Set<Promise<unknown>>();

  // last_used_at is informational: at most one write per key per minute, off the request path.
  function touch(id: string, t: number): void {
    if (t - (lastTouch.get(id) ?? 0) < TOUCH_INTERVAL_MS) return;
    lastTouch.set(id, t);
    const write: Promise<unknown> = db
      .update(apiKeys)
      .set({ lastUsedAt: t })
      .where(eq(apiKeys.id, id))
      .catch((err: unknown) => opts.log?.warn("could not record key use", { keyId: id, err }))
      .finally(() => pending.delete(write));
    pending.add(write);
  }

  async function check(secret: string): Promise<KeyCheck> {
    // Malformed input is refused without touching the database.
    if (!isKeySecret(secret)) return { ok: false, reason: "unknown_key" };
    const hash = hashSecret(secret);
    const t = now();
    const hit = cache.get(hash);
    if (hit && hit.until > t) {
      if (hit.expiresAt === null || t < hit.expiresAt) {
        touch(hit.id, t);
        return { ok: true, principal: hit.principal };
      }
      cache.delete(hash);
      return { ok: false, reason: "key_expired" };
    }
    const [row] = await db.select().from(apiKeys).where(eq(apiKeys.secretHash, hash)).limit(1);
    // The index lookup already matched the hash; the constant-time compare is belt and braces.
    if (!row || !timingSafeEqual(Buffer.from(row.secretHash, "hex"), Buffer.from(hash, "hex"))) {
      return { ok: false, reason: "unknown_key" };
    }
    // `revoked` also covers a revoke() that committed while this read was in flight.
    if (row.revokedAt !== null || revoked.has(row.id)) return { ok: false, reason: "key_revoked" };
    if (row.expiresAt !== null && t >= row.expiresAt) return { ok: false, reason: "key_expired" };
    const info = toInfo(row);
    const principal: Principal = Object.freeze({
      id: info.id,
      role: info.role,
      ...(info.functions ? { functions: info.functions } : {}),
      via: "key" as const,
    });
    cache.set(hash, { principal, id: row.id, expiresAt: row.expiresAt, until: t + ttl });
    if (!lastTouch.has(row.id) && row.lastUsedAt !== null) lastTouch.set(row.id, row.lastUsedAt);
    touch(row.id, t);
    return { ok: true, principal };
  }

  function newRow(input: CreateKeyInput, prefix: string, secret: string): ApiKeyRow {
    const t = now();
    const p = parseCreateInput(input, t);
    return {
      id: uuidv7(t),
      name: p.name,
      prefix,
      secretHash: hashSecret(secret),
      role: p.role,
      functions: p.functions ? JSON.stringify(p.functions) : null,
      createdAt: t,
      expiresAt: p.expiresAt ?? null,
      revokedAt: null,
      lastUsedAt: null,
      createdBy: p.createdBy,
    };
  }

  return {
    async create(input) {
      const { prefix, secret } = newSecret();
      const row = newRow(input, prefix, secret);
      await db.insert(apiKeys).values(row);
      const info = toInfo(row);
      await opts.audit?.append({
        actor: info.createdBy,
        action: "key.created",
        target: info.id,
        outcome: "success",
        details: {
          name: info.name,
          prefix: info.prefix,
          role: info.role,
          functions: info.functions,
          expiresAt: info.expiresAt,
        },
      });
      return { ...info, secret };
    },
    async adopt(secret, input) {
      const prefix = publicPrefix(secret);
      if (!prefix)
        throw new ConfigError(
          "A supplied API key must look like sk_sutazai_<8 hex>_<43 base64url characters>.",
        );
      await db
        .insert(apiKeys)
        .values(newRow(input, prefix, secret))
        .onConflictDoNothing();
      const [row] = await db
        .select()
        .from(apiKeys)
        .where(eq(apiKeys.secretHash, hashSecret(secret)))
        .limit(1);
      return toInfo(row!);
    },
    async verify(secret) {
      const result = await check(secret);
      return result.ok ? result.principal : null;
    },
    check,
    async list() {
      return (await db.select().from(apiKeys).orderBy(apiKeys.id)).map(toInfo);
    },
    async revoke(id, revokedBy = "system") {
      const changed = await db
        .update(apiKeys)
        .set({ revokedAt: now() })
        .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
        .returning({ prefix: apiKeys.prefix });
      const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, id)).limit(1);
      if (!row) return null;
      revoked.add(id);
      for (const [hash, entry] of cache) if (entry.id === id) cache.delete(hash);
      if (changed.length > 0) {
        const details = { prefix: row.prefix, name: row.name };
        await opts.audit?.append({
          actor: revokedBy,
          action: "key.revoked",
          target: id,
          outcome: "success",
          details,
        });
      }
      return toInfo(row);
    },
    async countAdmins() {
      const active = and(
        eq(apiKeys.role, "admin"),
        isNull(apiKeys.revokedAt),
        or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, now())),
      );
      const [row] = await db.select({ n: count() }).from(apiKeys).where(active);
      return row?.n ?? 0;
    },
    wasRevoked: (id) => revoked.has(id),
    async isUsable(id) {
      if (revoked.has(id)) return false;
      const [row] = await db
        .select({ revokedAt: apiKeys.revokedAt, expiresAt: apiKeys.expiresAt })
        .from(apiKeys)
        .where(eq(apiKeys.id, id))
        .limit(1);
      return row !== undefined && row.revokedAt === null && (row.expiresAt === null || row.expiresAt > now());
    },
    async flush() {
      await Promise.all([...pending]);
    },
  };
}
