import { createHash, randomBytes } from "node:crypto";
import { z } from "zod";
import type { ApiKeyRow } from "../../schema/auth.ts";
import { AppError, fieldErrors } from "../errors.ts";
import { isValidFunctionName } from "../function.ts";
import { hasLoneSurrogate } from "../lone-surrogates.ts";
import { ROLES, type Role } from "./principal.ts";

/** Every secret starts with this, so scanners and the authenticator recognise one on sight. */
export const KEY_PREFIX = "sk_sutazai_";
// sk_sutazai_<8 hex public id>_<43 base64url chars = 256 random bits>
const SECRET_RE = /^sk_sutazai_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/;

export const isKeySecret = (s: string): boolean => SECRET_RE.test(s);

/** The public part of a well-formed secret (`sk_sutazai_1a2b3c4d`): safe to log and to audit. */
export const publicPrefix = (secret: string): string | undefined =>
  isKeySecret(secret) ? secret.slice(0, KEY_PREFIX.length + 8) : undefined;

export function newSecret(): { prefix: string; secret: string } {
  const prefix = `${KEY_PREFIX}${randomBytes(4).toString("hex")}`;
  return { prefix, secret: `${prefix}_${randomBytes(32).toString("base64url")}` };
}

export const hashSecret = (secret: string): string => createHash("sha256").update(secret).digest("hex");

export interface ApiKeyInfo {
  id: string;
  name: string;
  prefix: string;
  role: Role;
  functions: string[] | null;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
  createdBy: string;
}

export interface CreatedKey extends ApiKeyInfo {
  /** The only time the secret exists outside its holder: show it once, never store it. */
  secret: string;
}

export interface CreateKeyInput {
  name: string;
  role: Role;
  /** function grants; required for anything a `device` may invoke */
  functions?: string[] | null;
  /** unix ms */
  expiresAt?: number | null;
  /** principal id of the creator */
  createdBy: string;
}

const createInput = z.object({
  // No control characters: a NUL would be cut off on the way back out of SQLite. No lone
  // UTF-16 surrogates either: SQLite would store U+FFFD instead, so the name read back (and
  // listed) would differ from the one created and audited.
  name: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .refine((s) => !/\p{Cc}/u.test(s), "must not contain control characters")
    .refine((s) => !hasLoneSurrogate(s), "must be valid Unicode text (no lone surrogates)"),
  role: z.enum(ROLES),
  functions: z.array(z.string().refine(isValidFunctionName, "not a valid function name")).max(1000).nullish(),
  expiresAt: z.number().int().positive().nullish(),
  createdBy: z.string().min(1).max(200),
});

/** Validates key properties; 400 REQUEST_INVALID with field paths otherwise. */
export function parseCreateInput(input: CreateKeyInput, now: number): z.infer<typeof createInput> {
  const parsed = createInput.safeParse(input);
  if (!parsed.success) {
    throw new AppError(400, "REQUEST_INVALID", "The key's properties are invalid.", {
      errors: fieldErrors(parsed.error.issues),
    });
  }
  if (parsed.data.expiresAt != null && parsed.data.expiresAt <= now) {
    throw new AppError(400, "REQUEST_INVALID", "The key's expiry is in the past.", {
      errors: [{ path: "expiresAt", message: "must be in the future" }],
    });
  }
  return parsed.data;
}

export function toInfo(row: ApiKeyRow): ApiKeyInfo {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    role: row.role as Role,
    functions: row.functions === null ? null : (JSON.parse(row.functions) as string[]),
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    revokedAt: row.revokedAt,
    lastUsedAt: row.lastUsedAt,
    createdBy: row.createdBy,
  };
}
