import { createHash } from "node:crypto";
import type { InStatement } from "@libsql/client";
import { AppError } from "../../runtime/errors.ts";
import type { FunctionContext } from "../../runtime/function.ts";
import { uuidv7 } from "../../runtime/ids.ts";
import { chunkText } from "./chunk.ts";
import { clientOf, requireCollection } from "./collections.ts";
import { embedAll, embeddingText } from "./embed.ts";
import { htmlTitle, htmlToText } from "./html.ts";
import type { IngestInput } from "./schema.ts";
import { deleteDocumentEntries, insertEntries, ROWS_PER_INSERT } from "./tables.ts";
import { wellFormed } from "./tokens.ts";
import { encodeVector } from "./vector-codec.ts";

export type IngestResult = {
  action: "ingest";
  status: "created" | "replaced" | "unchanged";
  documentId: string;
  key: string;
  version: number;
  chunks: number;
};

/** The text chunk offsets point into: HTML converted (headings kept as `#`), everything well-formed. */
export function documentText(content: string, format: IngestInput["format"]): string {
  const text = format === "html" ? htmlToText(content) : content.replace(/\r\n?/g, "\n");
  return wellFormed(text);
}

/**
 * Ingests one document: unchanged content (same hash and metadata) is skipped; otherwise it
 * is chunked and embedded *before* anything is written, then the document row, its old
 * chunks and index entries out, new ones in — one libSQL batch, i.e. one write transaction:
 * a concurrent search sees the old version or the new one, never half of each.
 */
export async function ingestDocument(ctx: FunctionContext, input: IngestInput): Promise<IngestResult> {
  const collection = await requireCollection(ctx.db, input.collection);
  if (collection.index.status !== "ready") {
    throw new AppError(
      409,
      "REINDEX_IN_PROGRESS",
      `Collection "${collection.name}" is being reindexed; ingest again when it finishes.`,
    );
  }
  const hash = createHash("sha256").update(`${input.format}\n`).update(input.content).digest("hex");
  const key = wellFormed(input.key ?? `sha256:${hash}`);
  const metadata = wellFormed(JSON.stringify(input.metadata));
  const client = clientOf(ctx.db);
  const previous = (
    await client.execute({
      sql: "SELECT id, content_hash, metadata, version, chunk_count FROM knowledge_documents WHERE collection_id = ? AND key = ?",
      args: [collection.id, key],
    })
  ).rows[0];
  if (previous && previous.content_hash === hash && previous.metadata === metadata) {
    return {
      action: "ingest",
      status: "unchanged",
      documentId: String(previous.id),
      key,
      version: Number(previous.version),
      chunks: Number(previous.chunk_count),
    };
  }

  const text = documentText(input.content, input.format);
  const title =
    wellFormed(input.title ?? (input.format === "html" ? htmlTitle(input.content) : undefined) ?? "") || null;
  const chunks = chunkText(text, {
    chunkTokens: collection.chunkTokens,
    overlapTokens: collection.overlapTokens,
  });
  if (chunks.length === 0) throw new AppError(422, "DOCUMENT_EMPTY", "The document has no text to index.");
  const total = chunks.length;
  await ctx.progress({ phase: "embedding", embedded: 0, total });
  const vectors = await embedAll(
    ctx,
    chunks.map((c) => embeddingText(title, c.headingPath, c.text)),
    collection.embeddingModel,
    {
      dimension: collection.dimension,
      onBatch: (embedded) => ctx.progress({ phase: "embedding", embedded, total }),
    },
  );
  // Past this point the write commits even if the caller gives up: check before it.
  ctx.signal.throwIfAborted();

  const now = Date.now();
  const documentId = previous ? String(previous.id) : uuidv7();
  const version = previous ? Number(previous.version) + 1 : 1;
  const rows = chunks.map((c, ordinal) => ({ id: uuidv7(), ordinal, ...c }));
  const statements: InStatement[] = [];
  if (previous) {
    statements.push(...deleteDocumentEntries(collection.tables, documentId));
    statements.push({ sql: "DELETE FROM knowledge_chunks WHERE document_id = ?", args: [documentId] });
  }
  statements.push({
    sql: `INSERT INTO knowledge_documents (id, collection_id, key, title, format, metadata, content_hash, version, chars, chunk_count, created_at, updated_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT (id) DO UPDATE SET title = excluded.title, format = excluded.format, metadata = excluded.metadata,
            content_hash = excluded.content_hash, version = excluded.version, chars = excluded.chars,
            chunk_count = excluded.chunk_count, updated_at = excluded.updated_at`,
    args: [
      documentId,
      collection.id,
      key,
      title,
      input.format,
      metadata,
      hash,
      version,
      text.length,
      rows.length,
      now,
      now,
    ],
  });
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    const slice = rows.slice(i, i + ROWS_PER_INSERT);
    statements.push({
      sql: `INSERT INTO knowledge_chunks (id, collection_id, document_id, ordinal, text, heading_path, start, "end", tokens, updated_at, embedding) VALUES ${slice.map(() => "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").join(", ")}`,
      args: slice.flatMap((c, j) => [
        c.id,
        collection.id,
        documentId,
        c.ordinal,
        c.text,
        JSON.stringify(c.headingPath),
        c.start,
        c.end,
        c.tokens,
        now,
        // Distributed collections carry their vectors to the edges (see schema/knowledge.ts).
        collection.distributed ? encodeVector(vectors[i + j]!) : null,
      ]),
    });
  }
  statements.push(
    ...insertEntries(
      collection.tables,
      rows.map((c, i) => ({ chunkId: c.id, embedding: vectors[i]! })),
      documentId,
    ),
  );
  await client.batch(statements, "write");
  await ctx.progress({ phase: "done", embedded: total, total });
  return {
    action: "ingest",
    status: previous ? "replaced" : "created",
    documentId,
    key,
    version,
    chunks: rows.length,
  };
}

/** Deletes a document with its chunks and their index entries, in one transaction. */
export async function deleteDocument(ctx: FunctionContext, collectionName: string, key: string) {
  const collection = await requireCollection(ctx.db, collectionName);
  const client = clientOf(ctx.db);
  const doc = (
    await client.execute({
      sql: "SELECT id FROM knowledge_documents WHERE collection_id = ? AND key = ?",
      args: [collection.id, key],
    })
  ).rows[0];
  if (!doc)
    throw new AppError(
      404,
      "DOCUMENT_NOT_FOUND",
      `No document "${key.slice(0, 200)}" in collection "${collection.name}".`,
    );
  const id = String(doc.id);
  await client.batch(
    [
      ...deleteDocumentEntries(collection.tables, id),
      { sql: "DELETE FROM knowledge_chunks WHERE document_id = ?", args: [id] },
      { sql: "DELETE FROM knowledge_documents WHERE id = ?", args: [id] },
    ],
    "write",
  );
  return { action: "deleteDocument", deleted: true, documentId: id, key };
}
