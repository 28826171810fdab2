import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/*
 * The knowledge base (functions/knowledge). Split in two on purpose:
 *
 * - Source of truth, shaped for sync (UUIDv7 text keys, `updated_at`, no blobs — the sync
 *   layer carries rows as JSON): collections, documents, chunks. A server can replicate the
 *   collections marked `distributed` and their documents and chunks down to edge boxes.
 * - Local, derived search indexes: per collection, one vector table (F32_BLOB(dim) + a
 *   libsql_vector_idx) and one FTS5 table, created at run time because a vector column's
 *   dimension is fixed per table. `knowledge_indexes` records which tables serve a
 *   collection on THIS node and for which model; it is never synced (each node builds its own).
 */

/** A named set of documents searched together, with its embedding model and chunking. */
export const knowledgeCollections = sqliteTable(
  "knowledge_collections",
  {
    id: text("id").primaryKey(), // UUIDv7
    name: text("name").notNull(),
    description: text("description"),
    embeddingModel: text("embedding_model").notNull(),
    dimension: integer("dimension").notNull(),
    chunkTokens: integer("chunk_tokens").notNull(),
    overlapTokens: integer("overlap_tokens").notNull(),
    // 1: the server replicates this collection (documents + chunks) to edge nodes
    distributed: integer("distributed", { mode: "boolean" }).notNull().default(false),
    createdAt: integer("created_at").notNull(), // unix ms
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("knowledge_collections_name").on(t.name)],
);

/** One ingested document; `key` is the caller's stable name for it (file path, URL, ...). */
export const knowledgeDocuments = sqliteTable(
  "knowledge_documents",
  {
    id: text("id").primaryKey(), // UUIDv7
    collectionId: text("collection_id")
      .notNull()
      .references(() => knowledgeCollections.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    title: text("title"),
    format: text("format").notNull(), // text | markdown | html
    metadata: text("metadata").notNull().default("{}"), // JSON object; search filters match on it
    contentHash: text("content_hash").notNull(), // sha256 of the raw content + format
    version: integer("version").notNull(),
    chars: integer("chars").notNull(), // length of the text chunk offsets point into
    chunkCount: integer("chunk_count").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("knowledge_documents_key").on(t.collectionId, t.key)],
);

/** A piece of a document's text: what is embedded, indexed and cited. */
export const knowledgeChunks = sqliteTable(
  "knowledge_chunks",
  {
    id: text("id").primaryKey(), // UUIDv7
    collectionId: text("collection_id").notNull(), // denormalized: sync filters and index builds scan by it
    documentId: text("document_id")
      .notNull()
      .references(() => knowledgeDocuments.id, { onDelete: "cascade" }),
    ordinal: integer("ordinal").notNull(), // position in the document
    text: text("text").notNull(),
    headingPath: text("heading_path").notNull(), // JSON array of headings, outermost first
    start: integer("start").notNull(), // char offsets [start, end) into the document's text
    end: integer("end").notNull(),
    tokens: integer("tokens").notNull(), // approximate (see functions/knowledge/tokens.ts)
    // Distributed collections only: the chunk's vector as base64 of little-endian float32,
    // so edges receive it by sync and index it without an embedding model of their own.
    embedding: text("embedding"),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("knowledge_chunks_document").on(t.documentId, t.ordinal),
    index("knowledge_chunks_collection").on(t.collectionId),
  ],
);

/** Local only: the search index tables serving a collection on this node, and what built them. */
export const knowledgeIndexes = sqliteTable("knowledge_indexes", {
  collectionId: text("collection_id")
    .primaryKey()
    .references(() => knowledgeCollections.id, { onDelete: "cascade" }),
  vectorTable: text("vector_table").notNull(), // kb_vec_<hex>_<generation>
  ftsTable: text("fts_table").notNull(), // kb_fts_<hex>_<generation>
  embeddingModel: text("embedding_model").notNull(),
  dimension: integer("dimension").notNull(),
  generation: integer("generation").notNull(),
  status: text("status").notNull(), // ready | reindexing
  updatedAt: integer("updated_at").notNull(),
});

export type KnowledgeCollectionRow = typeof knowledgeCollections.$inferSelect;
export type KnowledgeDocumentRow = typeof knowledgeDocuments.$inferSelect;
export type KnowledgeChunkRow = typeof knowledgeChunks.$inferSelect;
export type KnowledgeIndexRow = typeof knowledgeIndexes.$inferSelect;
