import { hasPermission } from "../../runtime/auth/rbac.ts";
import { AppError } from "../../runtime/errors.ts";
import { defineFunction, type FunctionContext } from "../../runtime/function.ts";
import { ask } from "./ask.ts";
import {
  clientOf,
  createCollection,
  deleteCollection,
  findCollection,
  listCollections,
  requireCollection,
} from "./collections.ts";
import { deleteDocument, ingestDocument } from "./ingest.ts";
import { reindex } from "./reindex.ts";
import { type KnowledgeInput, knowledgeInput, knowledgeOutput } from "./schema.ts";
import { search } from "./search.ts";

export { DONT_KNOW } from "./ask.ts";
export { type Chunk, type ChunkOptions, chunkText } from "./chunk.ts";
export { htmlToText } from "./html.ts";
export { knowledgeInput, knowledgeOutput, type SearchHit } from "./schema.ts";

const WRITES = new Set(["createCollection", "deleteCollection", "ingest", "deleteDocument", "reindex"]);

/** Reads need knowledge:read (the function's permission); these actions also need knowledge:write. */
function authorize(input: KnowledgeInput, ctx: FunctionContext): void {
  if (WRITES.has(input.action) && !hasPermission(ctx.principal, "knowledge:write")) {
    throw new AppError(
      403,
      "FORBIDDEN",
      `Your credential (role ${ctx.principal.role}) lacks the "knowledge:write" permission needed to ${input.action}.`,
    );
  }
}

/**
 * A distributed collection belongs to the server: on an edge it is a read-only replica
 * (a local write would be overwritten by the next sync, or never reach other edges).
 */
async function checkWritable(input: KnowledgeInput, ctx: FunctionContext): Promise<void> {
  if (ctx.node.role !== "edge" || !WRITES.has(input.action)) return;
  if (input.action === "createCollection") {
    if (input.distributed)
      throw new AppError(
        422,
        "INPUT_INVALID",
        "Distributed collections are created on the server; edges receive them by sync.",
        {
          errors: [{ path: "distributed", message: "only a server node can distribute a collection" }],
        },
      );
    return;
  }
  if (!("collection" in input)) return;
  const row = await findCollection(ctx.db, input.collection);
  if (row?.distributed)
    throw new AppError(
      409,
      "COLLECTION_REPLICATED",
      `Collection "${row.name}" is distributed by the server and read-only on this edge: ${input.action} it on the server; the change reaches this edge by sync.`,
    );
}

async function listDocuments(ctx: FunctionContext, name: string) {
  const collection = await requireCollection(ctx.db, name);
  const rs = await clientOf(ctx.db).execute({
    sql: "SELECT id, key, title, format, metadata, version, chunk_count AS chunks, updated_at AS updatedAt FROM knowledge_documents WHERE collection_id = ? ORDER BY key LIMIT 10000",
    args: [collection.id],
  });
  return {
    action: "listDocuments",
    documents: rs.rows.map((r) => ({ ...r, metadata: JSON.parse(String(r.metadata)) })),
  };
}

/**
 * The knowledge base: collections of documents chunked, embedded (libSQL vectors) and
 * keyword-indexed (FTS5) on this node, searched hybrid, and `ask` answering from them with
 * [n] citations. Everything runs locally: an offline edge box answers from its own copy.
 *
 *   {"action":"ingest","collection":"manuals","key":"pump-x.md","format":"markdown","content":"# Pump X ..."}
 *   {"action":"search","collection":"manuals","query":"reset the pump","mode":"hybrid","k":5}
 *   {"action":"ask","collection":"manuals","question":"How do I reset pump X?"}
 */
export const knowledge = defineFunction({
  name: "knowledge",
  description:
    'Knowledge base on this node. Actions: createCollection, listCollections, deleteCollection, ingest (text|markdown|html, re-ingest replaces, unchanged is skipped), deleteDocument, listDocuments, search (hybrid|vector|keyword, metadata filter), ask (answer with [n] citations, or "I don\'t know"), reindex (re-embed, optionally with another model).',
  input: knowledgeInput,
  output: knowledgeOutput,
  permission: "knowledge:read",
  // ingests of big documents embed for a while (the HTTP route runs those async)
  timeoutMs: 15 * 60_000,
  // ingest and reindex are idempotent (hash check, generation swap), so a retry is safe
  retries: 1,
  handler: async (input, ctx) => {
    authorize(input, ctx);
    await checkWritable(input, ctx);
    switch (input.action) {
      case "createCollection": {
        const row = await createCollection(ctx, input);
        return { action: "createCollection", collection: row };
      }
      case "listCollections":
        return { action: "listCollections", collections: await listCollections(ctx.db) };
      case "deleteCollection":
        await deleteCollection(ctx.db, input.collection);
        return { action: "deleteCollection", deleted: true };
      case "ingest":
        return ingestDocument(ctx, input);
      case "deleteDocument":
        return deleteDocument(ctx, input.collection, input.key);
      case "listDocuments":
        return listDocuments(ctx, input.collection);
      case "search":
        return search(ctx, input);
      case "ask":
        return ask(ctx, input);
      case "reindex":
        return reindex(ctx, input.collection, input.embeddingModel);
    }
  },
});
