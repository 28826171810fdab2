import type { Client, InStatement } from "@libsql/client";
import { isIndexTable } from "./tables.ts";

/*
 * Server side of distributed collections: their chunks carry their vectors (hex of the
 * F32_BLOB, knowledge_chunks.embedding) so that sync takes them to the edges. Ingest writes
 * it with each chunk; these keep it right when vectors change wholesale.
 */

/**
 * Copies every chunk's vector from `vectorTable` into knowledge_chunks.embedding and stamps
 * the chunk with `stamp` (the collection's updated_at): the statement a reindex's swap runs,
 * so edges get the new vectors in the same transaction as the new model name.
 */
export function shipVectors(
  collectionId: string,
  vectorTable: string,
  stamp: number,
  opts: { onlyMissing?: boolean } = {},
): InStatement {
  if (!isIndexTable(vectorTable, "vec")) throw new Error(`knowledge: bad vector table name ${vectorTable}`);
  return {
    sql: `UPDATE knowledge_chunks SET embedding = (SELECT hex(v.embedding) FROM ${vectorTable} v WHERE v.chunk_id = knowledge_chunks.id),
            updated_at = max(updated_at, ?) WHERE collection_id = ?${opts.onlyMissing ? " AND embedding IS NULL" : ""}`,
    args: [stamp, collectionId],
  };
}

/**
 * Server start: chunks of distributed collections that have no vector to ship (ingested
 * before vectors travelled with them) get theirs from the live index. Returns how many.
 */
export async function fillMissingVectors(client: Client): Promise<number> {
  const rs = await client.execute(
    `SELECT c.id, c.updated_at, i.vector_table FROM knowledge_collections c JOIN knowledge_indexes i ON i.collection_id = c.id
     WHERE c.distributed = 1 AND i.status = 'ready' AND i.embedding_model = c.embedding_model AND i.dimension = c.dimension
       AND EXISTS (SELECT 1 FROM knowledge_chunks k WHERE k.collection_id = c.id AND k.embedding IS NULL)`,
  );
  let filled = 0;
  for (const r of rs.rows) {
    const ship = shipVectors(String(r.id), String(r.vector_table), Number(r.updated_at), {
      onlyMissing: true,
    });
    filled += (await client.execute(ship)).rowsAffected;
  }
  return filled;
}
