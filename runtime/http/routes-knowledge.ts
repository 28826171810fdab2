import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { AppError } from "../errors.ts";
import type { AppEnv, Platform } from "../platform.ts";
import { requirePermission } from "./guard.ts";
import { json, problem } from "./schemas.ts";

/*
 * REST face of the `knowledge` function. runtime/ never imports functions/, and every
 * call must be authorized, validated, recorded and audited the same way: so each route
 * turns the request into an input and goes through the ONE invocation path (Invoker).
 * The routes check knowledge:read / knowledge:write up front so refusals are plain 403s.
 */

const FN = "knowledge";
/** Documents larger than this are ingested asynchronously even without ?mode=async (embedding takes a while). */
export const AUTO_ASYNC_CHARS = 256 * 1024;

const Output = z.record(z.string(), z.unknown()).openapi("KnowledgeOutput");
const Queued = z.object({ id: z.string(), status: z.literal("queued"), location: z.string() });
const NameParam = z.object({
  name: z.string().openapi({ param: { name: "name", in: "path" }, example: "manuals" }),
});

const listCollections = createRoute({
  method: "get",
  path: "/v1/knowledge/collections",
  summary: "Knowledge collections with document and chunk counts",
  responses: { 200: json(Output, "The collections") },
});
const createCollection = createRoute({
  method: "post",
  path: "/v1/knowledge/collections",
  summary:
    "Create a collection: {name, embeddingModel?, dimension?, chunkTokens?, overlapTokens?, distributed?}",
  responses: { 201: json(Output, "Created"), 409: problem("Exists"), 422: problem("Invalid") },
});
const deleteCollection = createRoute({
  method: "delete",
  path: "/v1/knowledge/collections/{name}",
  summary: "Delete a collection with its documents, chunks and indexes",
  request: { params: NameParam },
  responses: { 200: json(Output, "Deleted"), 404: problem("No such collection") },
});
const listDocuments = createRoute({
  method: "get",
  path: "/v1/knowledge/collections/{name}/documents",
  summary: "Documents of a collection",
  request: { params: NameParam },
  responses: { 200: json(Output, "The documents"), 404: problem("No such collection") },
});
const ingest = createRoute({
  method: "post",
  path: "/v1/knowledge/documents",
  summary: "Ingest a document {collection, key?, title?, content, format: text|markdown|html, metadata?}",
  description: `Re-ingesting a key replaces the document atomically; unchanged content is skipped. \`?mode=async\` (automatic above ${AUTO_ASYNC_CHARS} characters) answers 202 with the invocation; its progress (chunks embedded / total) shows on GET /v1/invocations/{id}.`,
  request: { query: z.object({ mode: z.enum(["sync", "async"]).optional() }) },
  responses: {
    200: json(Output, "Ingested or unchanged"),
    202: json(Queued, "Queued"),
    404: problem("No such collection"),
    422: problem("Invalid"),
  },
});
const deleteDocument = createRoute({
  method: "delete",
  path: "/v1/knowledge/documents",
  summary: "Delete a document (and its chunks and index entries) by collection and key",
  request: { query: z.object({ collection: z.string(), key: z.string() }) },
  responses: { 200: json(Output, "Deleted"), 404: problem("No such document") },
});
const search = createRoute({
  method: "get",
  path: "/v1/knowledge/search",
  summary: "Search a collection: hybrid (RRF of vector + keyword), vector or keyword",
  request: {
    query: z.object({
      collection: z.string(),
      q: z.string(),
      mode: z.enum(["hybrid", "vector", "keyword"]).optional(),
      k: z.coerce.number().int().min(1).max(100).optional(),
      filter: z
        .string()
        .optional()
        .openapi({ description: 'metadata equality as JSON, e.g. {"product":"pump-x"}' }),
      model: z
        .string()
        .optional()
        .openapi({ description: "embedding model the caller expects; must match the collection's" }),
    }),
  },
  responses: {
    200: json(Output, "Hits, best first"),
    404: problem("No such collection"),
    409: problem("Model mismatch or stale index"),
  },
});

export function knowledgeRoutes(platform: Platform) {
  const app = new OpenAPIHono<AppEnv>();
  const run = async (c: Context<AppEnv>, input: unknown) =>
    (
      await platform.invoker.invoke({
        function: FN,
        input,
        principal: c.get("principal"),
        trigger: "http",
        signal: c.req.raw.signal,
      })
    ).output as Record<string, unknown>;

  app.openapi(listCollections, async (c) => {
    requirePermission(c, "knowledge:read");
    return c.json(await run(c, { action: "listCollections" }), 200);
  });
  app.openapi(createCollection, async (c) => {
    requirePermission(c, "knowledge:write");
    return c.json(await run(c, { ...bodyObject(c), action: "createCollection" }), 201);
  });
  app.openapi(deleteCollection, async (c) => {
    requirePermission(c, "knowledge:write");
    return c.json(await run(c, { action: "deleteCollection", collection: c.req.valid("param").name }), 200);
  });
  app.openapi(listDocuments, async (c) => {
    requirePermission(c, "knowledge:read");
    return c.json(await run(c, { action: "listDocuments", collection: c.req.valid("param").name }), 200);
  });
  app.openapi(ingest, async (c) => {
    requirePermission(c, "knowledge:write");
    const input = { ...bodyObject(c), action: "ingest" };
    const content = (input as { content?: unknown }).content;
    const big = typeof content === "string" && content.length > AUTO_ASYNC_CHARS;
    if (c.req.valid("query").mode === "async" || big) {
      const req = { function: FN, input, principal: c.get("principal"), trigger: "http" as const };
      const { id } = await platform.invoker.enqueue(req);
      const location = `/v1/invocations/${id}`;
      c.header("Location", location);
      return c.json({ id, status: "queued" as const, location }, 202);
    }
    return c.json(await run(c, input), 200);
  });
  app.openapi(deleteDocument, async (c) => {
    requirePermission(c, "knowledge:write");
    const { collection, key } = c.req.valid("query");
    return c.json(await run(c, { action: "deleteDocument", collection, key }), 200);
  });
  app.openapi(search, async (c) => {
    requirePermission(c, "knowledge:read");
    const { collection, q, mode, k, filter, model } = c.req.valid("query");
    return c.json(
      await run(c, {
        action: "search",
        collection,
        query: q,
        mode,
        k,
        filter: parseFilter(filter),
        embeddingModel: model,
      }),
      200,
    );
  });
  return app;
}

function bodyObject(c: Context<AppEnv>): Record<string, unknown> {
  const body = c.get("body");
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new AppError(400, "BODY_REQUIRED", "Send a JSON object body.");
  }
  return isForm(c) ? fromForm(body as Record<string, unknown>) : (body as Record<string, unknown>);
}

const isForm = (c: Context<AppEnv>) =>
  (c.req.header("content-type") ?? "").toLowerCase().startsWith("multipart/form-data");
const FORMATS: Record<string, string> = {
  md: "markdown",
  markdown: "markdown",
  html: "html",
  htm: "html",
  txt: "text",
};

/**
 * A multipart upload (`curl -F collection=manuals -F file=@manual.md`) as the JSON ingest
 * body: the file is the content; its name gives the key and, by extension, the format;
 * `metadata` is a JSON string.
 */
function fromForm(form: Record<string, unknown>): Record<string, unknown> {
  const { file, fileName, metadata, ...fields } = form;
  const out: Record<string, unknown> = { ...fields };
  if (typeof file === "string") {
    out.content ??= file;
    if (typeof fileName === "string" && fileName) {
      out.key ??= fileName;
      const ext = fileName.split(".").pop()?.toLowerCase() ?? "";
      if (FORMATS[ext]) out.format ??= FORMATS[ext];
    }
  }
  if (typeof metadata === "string" && metadata !== "") {
    try {
      out.metadata = JSON.parse(metadata);
    } catch {
      throw new AppError(422, "INPUT_INVALID", "The metadata field must be a JSON object.", {
        errors: [{ path: "metadata", message: "not JSON" }],
      });
    }
  }
  return out;
}

function parseFilter(raw: string | undefined): unknown {
  if (raw === undefined || raw === "") return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    throw new AppError(
      400,
      "FILTER_INVALID",
      'filter must be a JSON object, e.g. filter={"product":"pump-x"} (URL-encoded).',
    );
  }
}
