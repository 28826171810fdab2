import type { InStatement } from "@libsql/client";
import type { IndexTables } from "./tables.ts";

/**
 * Points a collection's local index row at a (new) generation of tables, ready to search.
 * Part of the swap transaction of a reindex or of an edge's rebuild of a replica.
 */
export function setIndexRow(
  collectionId: string,
  tables: Pick<IndexTables, "vectorTable" | "ftsTable">,
  model: { embeddingModel: string; dimension: number; generation: number },
  now = Date.now(),
): InStatement {
  return {
    sql: `INSERT INTO knowledge_indexes (collection_id, vector_table, fts_table, embedding_model, dimension, generation, status, updated_at)
          VALUES (?, ?, ?, ?, ?, ?, 'ready', ?)
          ON CONFLICT (collection_id) DO UPDATE SET vector_table = excluded.vector_table, fts_table = excluded.fts_table,
            embedding_model = excluded.embedding_model, dimension = excluded.dimension, generation = excluded.generation,
            status = 'ready', updated_at = excluded.updated_at`,
    args: [
      collectionId,
      tables.vectorTable,
      tables.ftsTable,
      model.embeddingModel,
      model.dimension,
      model.generation,
      now,
    ],
  };
}
