import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createAuditLog } from "../runtime/audit/log.ts";
import { parseDuration } from "../runtime/auth/duration.ts";
import { createKeyStore, KEY_PREFIX, type KeyStore } from "../runtime/auth/keys.ts";
import { type Database, openDatabase } from "../runtime/db.ts";
import { AppError, ConfigError } from "../runtime/errors.ts";
import { applyMigrations } from "../runtime/migrate.ts";

let database: Database;
let clock: number;
let keys: KeyStore;
const now = () => clock;

beforeEach(async () => {
  database = await openDatabase(":memory:");
  await applyMigrations(database);
  clock = Date.parse("2030-01-01T00:00:00Z");
  keys = createKeyStore(database.db, { now, cacheTtlMs: 5_000 });
});
afterEach(() => database.close());

const rows = async (sql: string) => (await database.client.execute(sql)).rows;

describe("API keys", () => {
  it("creates a key whose secret is shown once and stored only as a SHA-256", async () => {
    const key = await keys.create({ name: "ci", role: "developer", createdBy: "system" });
    expect(key.secret).toMatch(/^sk_sutazai_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
    expect(key.secret.startsWith(`${key.prefix}_`)).toBe(true);
    expect(key.prefix.startsWith(KEY_PREFIX)).toBe(true);
    const [row] = await rows("SELECT * FROM api_keys");
    expect(row?.secret_hash).toBe(createHash("sha256").update(key.secret).digest("hex"));
    expect(JSON.stringify(row)).not.toContain(key.secret.slice(key.prefix.length + 1));
    const listed = await keys.list();
    expect(listed).toHaveLength(1);
    expect(JSON.stringify(listed)).not.toContain(key.secret);
    expect(listed[0]).not.toHaveProperty("secretHash");
  });

  it("verifies a secret into a principal with role and grants", async () => {
    const key = await keys.create({
      name: "pump-7",
      role: "device",
      functions: ["echo"],
      createdBy: "admin-1",
    });
    expect(await keys.verify(key.secret)).toEqual({
      id: key.id,
      role: "device",
      functions: ["echo"],
      via: "key",
    });
    const dev = await keys.create({ name: "dev", role: "developer", createdBy: "admin-1" });
    expect(await keys.verify(dev.secret)).toEqual({ id: dev.id, role: "developer", via: "key" });
  });

  it("refuses unknown, malformed and tampered secrets", async () => {
    const key = await keys.create({ name: "a", role: "admin", createdBy: "system" });
    const flipped = key.secret.slice(0, -1) + (key.secret.endsWith("A") ? "B" : "A");
    for (const bad of [
      flipped,
      "",
      "sk_sutazai_",
      `${key.secret}x`,
      key.prefix,
      "' OR 1=1 --",
      "x".repeat(10_000),
    ]) {
      expect(await keys.verify(bad)).toBeNull();
      expect(await keys.check(bad)).toEqual({ ok: false, reason: "unknown_key" });
    }
  });

  it("revocation is effective immediately, even for a cached key", async () => {
    const key = await keys.create({ name: "a", role: "operator", createdBy: "system" });
    expect(await keys.verify(key.secret)).not.toBeNull(); // now cached
    const revoked = await keys.revoke(key.id);
    expect(revoked?.revokedAt).toBe(clock);
    expect(await keys.check(key.secret)).toEqual({ ok: false, reason: "key_revoked" });
    expect(keys.wasRevoked(key.id)).toBe(true);
    expect(await keys.revoke("00000000-0000-7000-8000-000000000000")).toBeNull();
    // Revoking twice keeps the first revocation time.
    clock += 1000;
    expect((await keys.revoke(key.id))?.revokedAt).toBe(revoked?.revokedAt);
  });

  it("a revocation by another process reaches a cached key within the cache TTL", async () => {
    const key = await keys.create({ name: "a", role: "operator", createdBy: "system" });
    expect(await keys.verify(key.secret)).not.toBeNull();
    await createKeyStore(database.db, { now }).revoke(key.id); // e.g. the CLI on the same data dir
    clock += 5_001;
    expect(await keys.check(key.secret)).toEqual({ ok: false, reason: "key_revoked" });
  });

  it("serves verified keys from memory within the TTL (no database read)", async () => {
    const key = await keys.create({ name: "a", role: "operator", createdBy: "system" });
    await keys.verify(key.secret);
    await database.client.execute("DELETE FROM api_keys");
    expect(await keys.verify(key.secret)).not.toBeNull();
    clock += 5_001;
    expect(await keys.verify(key.secret)).toBeNull();
  });

  it("refuses expired keys, cached or not", async () => {
    const key = await keys.create({
      name: "temp",
      role: "developer",
      expiresAt: clock + parseDuration("1h"),
      createdBy: "system",
    });
    expect(await keys.verify(key.secret)).not.toBeNull();
    clock += 3_600_000;
    expect(await keys.check(key.secret)).toEqual({ ok: false, reason: "key_expired" });
    clock += 10_000;
    expect(await keys.check(key.secret)).toEqual({ ok: false, reason: "key_expired" });
  });

  it("writes last_used_at at most once a minute per key", async () => {
    const key = await keys.create({ name: "a", role: "operator", createdBy: "system" });
    const lastUsed = async () => (await rows("SELECT last_used_at FROM api_keys"))[0]?.last_used_at;
    expect(await lastUsed()).toBeNull();
    const first = clock;
    await keys.verify(key.secret);
    await keys.flush();
    expect(await lastUsed()).toBe(first);
    clock += 30_000;
    await keys.verify(key.secret);
    await keys.flush();
    expect(await lastUsed()).toBe(first);
    clock += 31_000;
    await keys.verify(key.secret);
    await keys.flush();
    expect(await lastUsed()).toBe(clock);
  });

  it("counts active admin keys only", async () => {
    expect(await keys.countAdmins()).toBe(0);
    const a = await keys.create({ name: "a", role: "admin", createdBy: "system" });
    await keys.create({ name: "b", role: "admin", createdBy: "system", expiresAt: clock + 1000 });
    await keys.create({ name: "c", role: "operator", createdBy: "system" });
    expect(await keys.countAdmins()).toBe(2);
    await keys.revoke(a.id);
    expect(await keys.countAdmins()).toBe(1);
    clock += 1000;
    expect(await keys.countAdmins()).toBe(0);
  });

  it("rejects invalid key properties with 400 and field paths", async () => {
    const bad = [
      { name: "", role: "admin", createdBy: "x" },
      { name: "a", role: "root", createdBy: "x" },
      { name: "a\u0000b", role: "admin", createdBy: "x" },
      { name: "a", role: "device", functions: ["../etc/passwd"], createdBy: "x" },
      { name: "a", role: "admin", createdBy: "x", expiresAt: clock - 1 },
    ];
    for (const input of bad) {
      const err = await keys.create(input as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).status).toBe(400);
      expect((err as AppError).errors?.length).toBeGreaterThan(0);
    }
    expect(await keys.list()).toHaveLength(0);
  });

  it("audits key creation and revocation without the secret", async () => {
    const audit = createAuditLog(database, { now });
    const audited = createKeyStore(database.db, { now, audit });
    const key = await audited.create({
      name: "pump-7",
      role: "device",
      functions: ["echo"],
      createdBy: "admin-1",
    });
    await audited.revoke(key.id, "admin-2");
    await audited.revoke(key.id, "admin-2"); // already revoked: no second entry
    const { entries } = await audit.query();
    expect(entries.map((e) => [e.action, e.actor, e.target])).toEqual([
      ["key.created", "admin-1", key.id],
      ["key.revoked", "admin-2", key.id],
    ]);
    expect(entries[0]?.details).toMatchObject({ prefix: key.prefix, role: "device", functions: ["echo"] });
    expect(JSON.stringify(entries)).not.toContain(key.secret.slice(key.prefix.length + 1));
    expect(await audit.verify()).toMatchObject({ ok: true, count: 2 });
  });

  it("adopts a supplied secret (SUTAZAI_ADMIN_KEY) idempotently", async () => {
    const supplied = `${KEY_PREFIX}0123abcd_${"A".repeat(43)}`;
    const first = await keys.adopt(supplied, { name: "bootstrap", role: "admin", createdBy: "system" });
    const again = await keys.adopt(supplied, { name: "bootstrap", role: "admin", createdBy: "system" });
    expect(again.id).toBe(first.id);
    expect(first.prefix).toBe(`${KEY_PREFIX}0123abcd`);
    expect((await keys.verify(supplied))?.role).toBe("admin");
    await expect(
      keys.adopt("hunter2", { name: "x", role: "admin", createdBy: "system" }),
    ).rejects.toBeInstanceOf(ConfigError);
  });
});

describe("parseDuration", () => {
  it("parses s, m, h and d", () => {
    expect(parseDuration("30d")).toBe(30 * 86_400_000);
    expect(parseDuration("12h")).toBe(12 * 3_600_000);
    expect(parseDuration("15m")).toBe(900_000);
    expect(parseDuration("10s")).toBe(10_000);
  });

  it("rejects anything else with a 400 that says what is expected", () => {
    for (const bad of ["", "30", "0d", "-1d", "1h30m", "30w", "1.5d", "d", "3651d", "99999999999d", "30 d"]) {
      expect(() => parseDuration(bad), bad).toThrow(/positive number followed by s, m, h or d/);
    }
  });
});
