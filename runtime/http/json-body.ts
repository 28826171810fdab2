import type { IncomingMessage } from "node:http";
import type { MiddlewareHandler } from "hono";
import { AppError } from "../errors.ts";
import type { AppEnv } from "../platform.ts";
import { payloadTooLarge } from "./error-handler.ts";
import { nodeRequest, requestHeader } from "./node-http.ts";

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;
const MAX_DEPTH = 64;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads a JSON request body once, strictly: a wrong content type is 415, a body over the
 * limit is 413 (checked while reading, not trusting Content-Length), invalid UTF-8 or JSON
 * is 400, and nesting deeper than 64 levels is 400. The parsed value lands on `c.var.body`
 * (undefined for an empty body).
 */
export function jsonBody(
  limitBytes: number,
  opts: { multipartPaths?: string[] } = {},
): MiddlewareHandler<AppEnv> {
  const multipart = new Set(opts.multipartPaths ?? []);
  return async (c, next) => {
    const method = c.req.method;
    if (method !== "POST" && method !== "PUT" && method !== "PATCH") return next();
    const declared = Number(requestHeader(c, "content-length") ?? "0");
    if (declared > limitBytes) throw payloadTooLarge(limitBytes);
    // On @hono/node-server, reading the Node request directly skips building a web Request
    // and stream per call (a third of a small request's CPU); app.request() in tests has none.
    const incoming = nodeRequest(c);
    const bytes = incoming
      ? await readIncoming(incoming, limitBytes)
      : await readLimited(c.req.raw, limitBytes);
    if (bytes.byteLength === 0) {
      c.set("body", undefined);
      return next();
    }
    const contentType = requestHeader(c, "content-type") ?? "";
    const type = contentType.split(";")[0]!.trim();
    if (type.toLowerCase() === "multipart/form-data" && multipart.has(c.req.path)) {
      c.set("body", await formFields(bytes, contentType));
      return next();
    }
    if (!JSON_TYPE.test(type)) {
      throw new AppError(
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        `Send JSON with "Content-Type: application/json" (got "${type.slice(0, 100) || "none"}").`,
      );
    }
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      throw new AppError(400, "INVALID_UTF8", "The request body is not valid UTF-8.");
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new AppError(
        400,
        "MALFORMED_JSON",
        `The request body is not valid JSON: ${(err as Error).message}`,
      );
    }
    if (tooDeep(value, MAX_DEPTH)) {
      throw new AppError(400, "JSON_TOO_DEEP", `The request body nests deeper than ${MAX_DEPTH} levels.`);
    }
    c.set("body", value);
    c.set("bodyText", text);
    return next();
  };
}

/**
 * A multipart form as a plain object, for the few routes that take uploads: text fields as
 * strings, an uploaded file as its UTF-8 text, with its name under `<field>Name`.
 */
async function formFields(bytes: Uint8Array, contentType: string): Promise<Record<string, unknown>> {
  let form: FormData;
  try {
    form = await new Response(bytes, { headers: { "content-type": contentType } }).formData();
  } catch (err) {
    throw new AppError(400, "MALFORMED_FORM", `The multipart body cannot be read: ${(err as Error).message}`);
  }
  const out: Record<string, unknown> = {};
  for (const [name, value] of form) {
    if (typeof value === "string") {
      out[name] = value;
      continue;
    }
    try {
      out[name] = utf8.decode(await value.arrayBuffer());
    } catch {
      throw new AppError(
        400,
        "INVALID_UTF8",
        `The uploaded file "${value.name.slice(0, 100)}" is not UTF-8 text.`,
      );
    }
    out[`${name}Name`] = value.name;
  }
  return out;
}

function readIncoming(incoming: IncomingMessage, limit: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    incoming.on("data", (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > limit) {
        incoming.removeAllListeners("data");
        incoming.resume(); // drain the rest so the connection can answer 413
        reject(payloadTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    incoming.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    incoming.once("error", reject);
  });
}

async function readLimited(req: Request, limit: number): Promise<Uint8Array> {
  if (!req.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw payloadTooLarge(limit);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * Whether objects/arrays nest more than `max` levels. The recursion stops at `max` levels,
 * so a hostile 100k-deep array cannot overflow the stack here; plain loops allocate nothing
 * per value (a sync batch holds hundreds of thousands of them).
 */
function tooDeep(value: unknown, max: number): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (max === 0) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (tooDeep(value[i], max - 1)) return true;
    return false;
  }
  const obj = value as Record<string, unknown>;
  for (const k in obj) if (tooDeep(obj[k], max - 1)) return true;
  return false;
}
