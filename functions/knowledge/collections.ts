import type { Client } from "@libsql/client";
import { eq } from "drizzle-orm";
import type { Db } from "../../runtime/db.ts";
import { AppError } from "../../runtime/errors.ts";
import type { FunctionContext } from "../../runtime/function.ts";
import { uuidv7 } from "../../runtime/ids.ts";
import {
  type KnowledgeCollectionRow,
  type KnowledgeIndexRow,
  knowledgeCollections,
  knowledgeIndexes,
} from "../../schema/index.ts";
import { embedAll } from "./embed.ts";
import type { CreateCollectionInput } from "./schema.ts";
import {
  createTableStatements,
  dropTableStatements,
  type IndexTables,
  tableNames,
  vectorIndexName,
} from "./tables.ts";

export interface Collection extends KnowledgeCollectionRow {
  index: KnowledgeIndexRow;
  tables: IndexTables;
}

/**
 * The libSQL client under drizzle: the index tables are created at run time (names and
 * F32_BLOB dimensions drizzle cannot type), and bulk writes need client.batch's one-transaction semantics.
 */
export const clientOf = (db: Db): Client => (db as Db & { $client: Client }).$client;

/** Creates a collection and its (empty) index tables; the dimension is probed from the model if not given. */
export async function createCollection(ctx: FunctionContext, input: CreateCollectionInput) {
  if (input.overlapTokens >= input.chunkTokens) {
    throw new AppError(422, "INPUT_INVALID", "overlapTokens must be smaller than chunkTokens.", {
      errors: [{ path: "overlapTokens", message: `must be < chunkTokens (${input.chunkTokens})` }],
    });
  }
  const existing = await findCollection(ctx.db, input.name);
  if (existing)
    throw new AppError(409, "COLLECTION_EXISTS", `A collection named "${input.name}" already exists.`);
  const dimension =
    input.dimension ?? (await embedAll(ctx, ["dimension probe"], input.embeddingModel))[0]!.length;
  const now = Date.now();
  const row: KnowledgeCollectionRow = {
    id: uuidv7(),
    name: input.name,
    description: input.description ?? null,
    embeddingModel: input.embeddingModel,
    dimension,
    chunkTokens: input.chunkTokens,
    overlapTokens: input.overlapTokens,
    distributed: input.distributed,
    createdAt: now,
    updatedAt: now,
  };
  const tables = tableNames(row.id, 1);
  const client = clientOf(ctx.db);
  await client.batch(
    [
      ...createTableStatements(tables, dimension),
      {
        sql: "INSERT INTO knowledge_collections (id, name, description, embedding_model, dimension, chunk_tokens, overlap_tokens, distributed, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        args: [
          row.id,
          row.name,
          row.description,
          row.embeddingModel,
          dimension,
          row.chunkTokens,
          row.overlapTokens,
          row.distributed ? 1 : 0,
          now,
          now,
        ],
      },
      {
        sql: "INSERT INTO knowledge_indexes (collection_id, vector_table, fts_table, embedding_model, dimension, generation, status, updated_at) VALUES (?, ?, ?, ?, ?, 1, 'ready', ?)",
        args: [row.id, tables.vectorTable, tables.ftsTable, row.embeddingModel, dimension, now],
      },
    ],
    "write",
  );
  return row;
}

export async function findCollection(db: Db, name: string): Promise<KnowledgeCollectionRow | undefined> {
  const [row] = await db
    .select()
    .from(knowledgeCollections)
    .where(eq(knowledgeCollections.name, name))
    .limit(1);
  return row;
}

/**
 * The collection with its local index. A collection that arrived by sync has no index on
 * this node yet, and one whose model changed on the server has a stale one: both are a
 * clear 409 that names the fix, never a silent search of the wrong vectors.
 */
export async function requireCollection(db: Db, name: string): Promise<Collection> {
  const row = await findCollection(db, name);
  if (!row) throw new AppError(404, "COLLECTION_NOT_FOUND", `No knowledge collection named "${name}".`);
  const [index] = await db
    .select()
    .from(knowledgeIndexes)
    .where(eq(knowledgeIndexes.collectionId, row.id))
    .limit(1);
  const fix = `Run \`sutazai knowledge reindex ${name}\` to build it.`;
  if (!index)
    throw new AppError(409, "INDEX_MISSING", `Collection "${name}" has no search index on this node. ${fix}`);
  if (index.embeddingModel !== row.embeddingModel || index.dimension !== row.dimension) {
    throw new AppError(
      409,
      "INDEX_STALE",
      `Collection "${name}" now uses ${row.embeddingModel} (${row.dimension} dims) but this node's index was built with ${index.embeddingModel} (${index.dimension} dims). ${fix}`,
    );
  }
  const tables = {
    vectorTable: index.vectorTable,
    ftsTable: index.ftsTable,
    vectorIndex: vectorIndexName(index.vectorTable),
  };
  return { ...row, index, tables };
}

/** The caller named an embedding model: it must be the one the collection's vectors came from. */
export function checkEmbeddingModel(collection: KnowledgeCollectionRow, requested: string | undefined): void {
  if (requested === undefined || requested === collection.embeddingModel) return;
  throw new AppError(
    409,
    "EMBEDDING_MODEL_MISMATCH",
    `Collection "${collection.name}" is embedded with ${collection.embeddingModel} (${collection.dimension} dims), not ${requested}: vectors of different models are not comparable. Query with ${collection.embeddingModel}, or reindex the collection with --model ${requested}.`,
  );
}

export async function listCollections(db: Db) {
  const rs = await clientOf(db).execute(
    "SELECT c.name, c.description, c.embedding_model AS embeddingModel, c.dimension, c.chunk_tokens AS chunkTokens, c.overlap_tokens AS overlapTokens, c.distributed, c.updated_at AS updatedAt, (SELECT count(*) FROM knowledge_documents d WHERE d.collection_id = c.id) AS documents, (SELECT count(*) FROM knowledge_chunks k WHERE k.collection_id = c.id) AS chunks, i.status AS indexStatus FROM knowledge_collections c LEFT JOIN knowledge_indexes i ON i.collection_id = c.id ORDER BY c.name",
  );
  return rs.rows.map((r) => ({
    ...r,
    distributed: Boolean(r.distributed),
    indexStatus: r.indexStatus ?? "missing",
  }));
}

/** Drops the collection, its documents and chunks (FK cascade) and its index tables, atomically. */
export async function deleteCollection(db: Db, name: string): Promise<void> {
  const row = await findCollection(db, name);
  if (!row) throw new AppError(404, "COLLECTION_NOT_FOUND", `No knowledge collection named "${name}".`);
  const client = clientOf(db);
  const rs = await client.execute({
    sql: "SELECT vector_table, fts_table FROM knowledge_indexes WHERE collection_id = ?",
    args: [row.id],
  });
  const drops = rs.rows.flatMap((r) =>
    dropTableStatements({ vectorTable: String(r.vector_table), ftsTable: String(r.fts_table) }),
  );
  await client.batch(
    [
      ...drops,
      // Children first and explicitly, not by FK cascade: a cascade runs after the parent row
      // is gone, when sync's "in a distributed collection" filter can no longer see it, and
      // the server would keep their replication metadata forever.
      { sql: "DELETE FROM knowledge_chunks WHERE collection_id = ?", args: [row.id] },
      { sql: "DELETE FROM knowledge_documents WHERE collection_id = ?", args: [row.id] },
      { sql: "DELETE FROM knowledge_collections WHERE id = ?", args: [row.id] },
    ],
    "write",
  );
}
