import { createHash, sign as edSign, type KeyObject } from "node:crypto";
import { expect } from "vitest";
import { createSigner } from "../../runtime/auth/jwt.ts";
import type { Role } from "../../runtime/auth/principal.ts";
import { issuerFor, JWT_AUDIENCE } from "../../runtime/auth/security.ts";
import { loadOrCreateSigningKey } from "../../runtime/auth/signing-keys.ts";
import type { TestNode } from "./test-node.ts";

/** Shared helpers for the tests/security-*.test.ts suites. */

export const bearer = (credential: string): Record<string, string> => ({
  authorization: `Bearer ${credential}`,
});

export interface RoleCredential {
  id: string;
  secret: string;
}

/**
 * One API key per role, minted straight in the key store. The device key is granted
 * `echo` only, so it may invoke echo but not telemetry.
 */
export async function mintRoleKeys(node: TestNode): Promise<Record<Role, RoleCredential>> {
  const make = async (role: Role, functions?: string[]) => {
    const key = await node.platform.security.keys.create({
      name: `security-test ${role}`,
      role,
      functions: functions ?? null,
      createdBy: "security-test",
    });
    return { id: key.id, secret: key.secret };
  };
  return {
    admin: await make("admin"),
    operator: await make("operator"),
    developer: await make("developer"),
    auditor: await make("auditor"),
    device: await make("device", ["echo"]),
    node: await make("node"),
  };
}

/** Exchanges an API key for a JWT through the real endpoint. */
export async function tokenFor(node: TestNode, secret: string): Promise<string> {
  const res = await node.request("/v1/auth/token", { method: "POST", headers: bearer(secret) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: Array<{ path: string; message: string }>;
}

/** Asserts an application/problem+json answer (status, code) and returns its body. */
export async function expectProblem(
  res: Response,
  status: number | number[],
  code?: string | RegExp,
): Promise<Problem> {
  const statuses = Array.isArray(status) ? status : [status];
  const text = await res.text();
  expect(statuses, `HTTP ${res.status}: ${text.slice(0, 300)}`).toContain(res.status);
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(text) as Problem;
  expect(body.status).toBe(res.status);
  expect(typeof body.code).toBe("string");
  expect(body.code).toMatch(/^[A-Z0-9_]+$/);
  expect(body.detail.length).toBeGreaterThan(0);
  if (code !== undefined) {
    if (typeof code === "string") expect(body.code).toBe(code);
    else expect(body.code).toMatch(code);
  }
  return body;
}

const b64url = (v: unknown) =>
  Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

/** The node's own signing key (the newest row of signing_keys), to forge edge-case tokens. */
export async function nodeSigningKey(node: TestNode): Promise<{ kid: string; privateKey: KeyObject }> {
  const key = await loadOrCreateSigningKey(node.platform.database.db);
  return { kid: key.kid, privateKey: key.privateKey };
}

/**
 * A token signed with the node's real key but with chosen claims; `clockOffsetMs` moves
 * iat/nbf/exp (negative = issued in the past), `audience`/`issuer` override the defaults.
 */
export async function signedToken(
  node: TestNode,
  principal: { id: string; role: Role; functions?: string[] },
  opts: { clockOffsetMs?: number; audience?: string; issuer?: string; ttlSec?: number } = {},
): Promise<string> {
  const { kid, privateKey } = await nodeSigningKey(node);
  const signer = createSigner({
    kid,
    privateKey,
    issuer: opts.issuer ?? issuerFor(node.platform.node().id),
    audience: opts.audience ?? JWT_AUDIENCE,
    ttlSec: opts.ttlSec ?? 900,
    now: () => Date.now() + (opts.clockOffsetMs ?? 0),
  });
  return signer.sign(principal).token;
}

/** Builds a JWT from raw header and claims, signed with `privateKey` (Ed25519) or with the given signature text. */
export function rawJwt(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  signature: { privateKey: KeyObject } | { text: string },
): string {
  const input = `${b64url(header)}.${b64url(claims)}`;
  const sig =
    "text" in signature
      ? signature.text
      : edSign(null, Buffer.from(input), signature.privateKey).toString("base64url");
  return `${input}.${sig}`;
}

/** Valid-looking claims for `principal` on `node`, for hand-built tokens. */
export function claimsFor(node: TestNode, principal: { id: string; role: Role }): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: issuerFor(node.platform.node().id),
    aud: JWT_AUDIENCE,
    sub: principal.id,
    iat: now,
    nbf: now,
    exp: now + 600,
    role: principal.role,
  };
}

export interface ChecksumOptions {
  /** rows of these tables to leave out, by primary-key value (e.g. invocations the test created) */
  excludeIds?: Partial<Record<string, ReadonlySet<string>>>;
  /** audit_log rows after this seq are new entries (append-only log): only older rows are compared */
  auditUpToSeq?: number;
}

/**
 * A SHA-256 per table of `SELECT * ... ORDER BY rowid`, plus one of the schema itself
 * (sqlite_master), so a dropped or altered table changes the result too.
 *
 * What may legitimately change while hostile requests are refused, and how it is handled:
 *  - audit_log: every refusal and every invocation appends an entry. The log is
 *    append-only, so rows up to `auditUpToSeq` (the head before) are compared and newer
 *    ones are left out; verify() is checked separately.
 *  - sqlite_sequence: its audit_log row is the append counter, which moves with the log.
 *  - api_keys.last_used_at: informational, touched (at most once a minute) when a key is
 *    used, so it is blanked before hashing.
 *  - rows the test itself created through legitimate requests (invocations, their queue
 *    jobs, keys with a hostile-but-valid name) are excluded by id.
 */
export async function tableChecksums(
  node: TestNode,
  opts: ChecksumOptions = {},
): Promise<Record<string, string>> {
  const { client } = node.platform.database;
  const out: Record<string, string> = {};
  const master = await client.execute(
    "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name",
  );
  out.sqlite_master = digest(master.rows);
  const tables = master.rows.filter((r) => r.type === "table").map((r) => String(r.name));
  for (const table of tables) {
    const rs = await client.execute(`SELECT * FROM "${table.replaceAll('"', '""')}" ORDER BY rowid`);
    let rows = rs.rows.map((row) => ({ ...row }) as Record<string, unknown>);
    const excluded = opts.excludeIds?.[table];
    if (excluded) rows = rows.filter((row) => !excluded.has(String(row.id)));
    if (table === "audit_log")
      rows = rows.filter((row) => Number(row.seq) <= (opts.auditUpToSeq ?? Number.POSITIVE_INFINITY));
    if (table === "sqlite_sequence") rows = rows.filter((row) => row.name !== "audit_log");
    if (table === "api_keys") rows = rows.map((row) => ({ ...row, last_used_at: null }));
    out[table] = digest(rows);
  }
  return out;
}

/** The seq of the newest audit entry (0 when empty). */
export async function auditHead(node: TestNode): Promise<number> {
  await node.platform.security.audit.flush();
  const rs = await node.platform.database.client.execute(
    "SELECT coalesce(max(seq), 0) AS seq FROM audit_log",
  );
  return Number(rs.rows[0]!.seq);
}

function digest(rows: unknown[]): string {
  const text = JSON.stringify(rows, (_k, v) =>
    typeof v === "bigint" ? v.toString() : v instanceof ArrayBuffer ? Buffer.from(v).toString("hex") : v,
  );
  return createHash("sha256").update(text).digest("hex");
}

/**
 * Percent-encodes a path segment. encodeURIComponent throws on a lone surrogate; such a
 * string is sent as the CESU-8 bytes of the surrogate (invalid UTF-8), which is what a
 * hostile client can put on the wire.
 */
export function encodeSegment(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return [...s]
      .map((ch) => {
        const code = ch.charCodeAt(0);
        if (ch.length === 1 && code >= 0xd800 && code <= 0xdfff) {
          return `%${(0xe0 | (code >> 12)).toString(16)}%${(0x80 | ((code >> 6) & 0x3f)).toString(16)}%${(0x80 | (code & 0x3f)).toString(16)}`.toUpperCase();
        }
        return encodeURIComponent(ch);
      })
      .join("");
  }
}
