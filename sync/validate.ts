import type { FieldError } from "../runtime/errors.ts";
import { hasLoneSurrogate } from "../runtime/lone-surrogates.ts";
import {
  asPushedChange,
  asWireChange,
  MAX_PUSH_CHANGES,
  type PullResponse,
  type PushRequest,
  type WireChange,
} from "./protocol.ts";

/*
 * Hand-written checks for the two hot payloads (a push batch, a pull page), equivalent to
 * PushRequestSchema / PullResponseSchema in protocol.ts, which stay the documented contract.
 * A batch holds thousands of changes; these checks cost well under a microsecond each,
 * where the zod schemas cost several — most of a sync round's CPU time at 100k changes.
 */
const HEX16 = /^[0-9a-f]{16}$/;
const OPS = new Set(["insert", "update", "delete"]);
const MAX_ERRORS = 20;

type Check<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isName = (v: unknown): v is string => typeof v === "string" && v.length >= 1 && v.length <= 128;
const isScalar = (v: unknown) =>
  v === null ||
  typeof v === "string" ||
  typeof v === "boolean" ||
  (typeof v === "number" && Number.isFinite(v));

function changeError(c: unknown): [string, string] | null {
  if (!isObject(c)) return ["", "must be a change: an object, or [seq, tbl, pk, op, cols, hlc, site, sv]"];
  if (!isCount(c.seq)) return ["seq", "must be a non-negative integer"];
  if (!isName(c.tbl)) return ["tbl", "must be a table name"];
  const pk = c.pk;
  if (!Array.isArray(pk) || pk.length < 1 || pk.length > 16)
    return ["pk", "must be an array of 1-16 key values"];
  for (const v of pk)
    if (typeof v !== "string" && !(typeof v === "number" && Number.isSafeInteger(v)))
      return ["pk", "key values must be strings or integers"];
  if (typeof c.op !== "string" || !OPS.has(c.op)) return ["op", "must be insert, update or delete"];
  if (c.cols !== null) {
    if (!isObject(c.cols)) return ["cols", "must be an object of column values, or null"];
    for (const k in c.cols)
      if (!isScalar(c.cols[k])) return [`cols.${k}`, "must be a string, number, boolean or null"];
  }
  if (typeof c.hlc !== "string" || !HEX16.test(c.hlc)) return ["hlc", "an HLC: 16 lower-case hex digits"];
  if (!isName(c.site)) return ["site", "must be a site id"];
  if (!isCount(c.sv)) return ["sv", "must be a non-negative integer"];
  return null;
}

/**
 * Checks an array of wire changes, in any form; collects at most 20 errors. A compact change
 * is replaced by its object in `value` itself (the parsed body, which nothing else holds).
 * `batch`: a push's site and schema version, which a short tuple leaves out.
 */
export function checkChanges(
  value: unknown,
  path: string,
  batch?: { site: string; sv: number },
): Check<WireChange[]> {
  if (!Array.isArray(value)) return { ok: false, errors: [{ path, message: "must be an array of changes" }] };
  const errors: FieldError[] = [];
  for (let i = 0; i < value.length && errors.length < MAX_ERRORS; i++) {
    if (Array.isArray(value[i])) {
      const n = value[i].length;
      if (n !== 8 && !(n === 6 && batch)) {
        errors.push({
          path: `${path}.${i}`,
          message: `a compact change is [seq, tbl, pk, op, cols, hlc, site, sv]${batch ? " or [seq, tbl, pk, op, cols, hlc]" : ""}`,
        });
        continue;
      }
      value[i] = batch ? asPushedChange(value[i], batch) : asWireChange(value[i]);
    }
    const e = changeError(value[i]);
    if (e) errors.push({ path: e[0] ? `${path}.${i}.${e[0]}` : `${path}.${i}`, message: e[1] });
  }
  return errors.length ? { ok: false, errors } : { ok: true, value: value as WireChange[] };
}

/** A \uD800–\uDFFF escape: the only way a string parsed from JSON text can hold a lone surrogate. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** The path of the first string (value or key) under `value` holding a lone surrogate. */
function loneSurrogateAt(value: unknown, path: string): string | undefined {
  if (typeof value === "string") return hasLoneSurrogate(value) ? path : undefined;
  if (typeof value !== "object" || value === null) return undefined;
  for (const [k, v] of Object.entries(value)) {
    const at = hasLoneSurrogate(k) ? path : loneSurrogateAt(v, `${path}.${k}`);
    if (at) return at;
  }
  return undefined;
}

/**
 * A push body, and (`text`) the JSON text it was parsed from. A lone surrogate is refused: the
 * batch reaches SQLite as JSON text (see runtime/lone-surrogates.ts). Only text with a
 * surrogate escape is walked.
 */
export function checkPushRequest(body: unknown, text?: string): Check<PushRequest> {
  if (!isObject(body)) return { ok: false, errors: [{ path: "(root)", message: "must be an object" }] };
  const errors: FieldError[] = [];
  if (!isName(body.site)) errors.push({ path: "site", message: "must be a site id" });
  for (const k of ["schemaVersion", "after", "pending"] as const) {
    if (!isCount(body[k])) errors.push({ path: k, message: "must be a non-negative integer" });
  }
  if (Array.isArray(body.changes) && body.changes.length > MAX_PUSH_CHANGES) {
    errors.push({ path: "changes", message: `at most ${MAX_PUSH_CHANGES} changes per batch` });
  } else {
    const batch = errors.length ? undefined : { site: body.site as string, sv: body.schemaVersion as number };
    const changes = checkChanges(body.changes, "changes", batch);
    if (!changes.ok) errors.push(...changes.errors);
    const lone =
      text !== undefined && SURROGATE_ESCAPE.test(text)
        ? loneSurrogateAt(body.changes, "changes")
        : undefined;
    if (lone)
      errors.push({
        path: lone,
        message: "holds a lone UTF-16 surrogate (\\uD800-\\uDFFF without its pair): not Unicode text",
      });
  }
  return errors.length ? { ok: false, errors } : { ok: true, value: body as unknown as PushRequest };
}

export function checkPullResponse(body: unknown): Check<PullResponse> {
  const fail = (path: string, message: string): Check<PullResponse> => ({
    ok: false,
    errors: [{ path, message }],
  });
  if (!isObject(body)) return fail("(root)", "must be an object");
  if (!isName(body.serverSite)) return fail("serverSite", "must be a site id");
  if (!isCount(body.head)) return fail("head", "must be a non-negative integer");
  if (body.rebootstrap === true) {
    return typeof body.reason === "string"
      ? { ok: true, value: body as unknown as PullResponse }
      : fail("reason", "must be a string");
  }
  if (body.rebootstrap !== false) return fail("rebootstrap", "must be a boolean");
  if (!isCount(body.next)) return fail("next", "must be a non-negative integer");
  if (typeof body.more !== "boolean") return fail("more", "must be a boolean");
  const changes = checkChanges(body.changes, "changes");
  return changes.ok ? { ok: true, value: body as unknown as PullResponse } : changes;
}
