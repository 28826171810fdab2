import { AppError } from "../../runtime/errors.ts";
import type { FunctionContext } from "../../runtime/function.ts";
import { clientOf, findCollection } from "./collections.ts";
import { shipVectors } from "./distribute.ts";
import { EMBED_BATCH, embedAll, embeddingText } from "./embed.ts";
import { setIndexRow } from "./index-row.ts";
import { createTableStatements, dropTableStatements, insertEntries, tableNames } from "./tables.ts";

/** Chunks read, embedded and written per round: bounded memory whatever the collection size. */
const PAGE = EMBED_BATCH * 8;

/**
 * Re-embeds every chunk of a collection — with a new model, or to build the index on a
 * node that received the collection by sync — into the NEXT generation's tables, then
 * swaps them in with one transaction (collection model + local index row + drop of the old
 * tables). Searches keep using the old index until the swap; ingests are refused meanwhile
 * (their chunks would miss the new tables). Progress: chunks embedded / total.
 */
export async function reindex(ctx: FunctionContext, name: string, model?: string) {
  const collection = await findCollection(ctx.db, name);
  if (!collection)
    throw new AppError(404, "COLLECTION_NOT_FOUND", `No knowledge collection named "${name}".`);
  const client = clientOf(ctx.db);
  const embeddingModel = model ?? collection.embeddingModel;
  const old = (
    await client.execute({
      sql: "SELECT * FROM knowledge_indexes WHERE collection_id = ?",
      args: [collection.id],
    })
  ).rows[0];
  if (old?.status === "reindexing") {
    throw new AppError(409, "REINDEX_IN_PROGRESS", `Collection "${name}" is already being reindexed.`);
  }
  const dimension = (await embedAll(ctx, ["dimension probe"], embeddingModel))[0]!.length;
  const generation = old ? Number(old.generation) + 1 : 1;
  const next = tableNames(collection.id, generation);
  const total = Number(
    (
      await client.execute({
        sql: "SELECT count(*) AS n FROM knowledge_chunks WHERE collection_id = ?",
        args: [collection.id],
      })
    ).rows[0]!.n,
  );
  await client.batch([...dropTableStatements(next), ...createTableStatements(next, dimension)], "write");
  if (old)
    await client.execute({
      sql: "UPDATE knowledge_indexes SET status = 'reindexing' WHERE collection_id = ?",
      args: [collection.id],
    });
  try {
    let embedded = 0;
    let after = "";
    await ctx.progress({ phase: "embedding", embedded, total, model: embeddingModel });
    for (;;) {
      // keyset pagination on the UUIDv7 key: stable while other collections change
      const page = await client.execute({
        sql: `SELECT c.id, c.text, c.heading_path, d.title FROM knowledge_chunks c JOIN knowledge_documents d ON d.id = c.document_id
              WHERE c.collection_id = ? AND c.id > ? ORDER BY c.id LIMIT ?`,
        args: [collection.id, after, PAGE],
      });
      if (page.rows.length === 0) break;
      const texts = page.rows.map((r) =>
        embeddingText(
          r.title === null ? null : String(r.title),
          JSON.parse(String(r.heading_path)),
          String(r.text),
        ),
      );
      const vectors = await embedAll(ctx, texts, embeddingModel, { dimension });
      const entries = page.rows.map((r, i) => ({ chunkId: String(r.id), embedding: vectors[i]! }));
      await client.batch(
        [
          ...insertEntries(next, entries),
          {
            sql: `INSERT INTO ${next.ftsTable} (rowid, text, heading) SELECT v.rid, c.text, c.heading_path FROM ${next.vectorTable} v JOIN knowledge_chunks c ON c.id = v.chunk_id WHERE v.chunk_id IN (SELECT value FROM json_each(?))`,
            args: [JSON.stringify(entries.map((e) => e.chunkId))],
          },
        ],
        "write",
      );
      embedded += page.rows.length;
      after = String(page.rows[page.rows.length - 1]!.id);
      await ctx.progress({ phase: "embedding", embedded, total, model: embeddingModel });
    }
    const now = Date.now();
    await client.batch(
      [
        {
          sql: "UPDATE knowledge_collections SET embedding_model = ?, dimension = ?, updated_at = ? WHERE id = ?",
          args: [embeddingModel, dimension, now, collection.id],
        },
        setIndexRow(collection.id, next, { embeddingModel, dimension, generation }, now),
        // A distributed collection ships the new vectors to its edges in this same swap: a
        // reindex that fails part-way leaves the replicated chunks untouched. Each chunk is
        // stamped with the collection's new updated_at: an edge uses only vectors at least
        // as recent as its collection row (functions/knowledge/replica.ts).
        ...(collection.distributed ? [shipVectors(collection.id, next.vectorTable, now)] : []),
        ...(old
          ? dropTableStatements({ vectorTable: String(old.vector_table), ftsTable: String(old.fts_table) })
          : []),
      ],
      "write",
    );
    await ctx.progress({ phase: "done", embedded, total, model: embeddingModel });
    return {
      action: "reindex" as const,
      collection: name,
      embeddingModel,
      dimension,
      chunks: embedded,
      generation,
    };
  } catch (err) {
    // leave the live index serving; the half-built generation is dropped
    await client.batch(
      [
        ...dropTableStatements(next),
        ...(old
          ? [
              {
                sql: "UPDATE knowledge_indexes SET status = 'ready' WHERE collection_id = ?",
                args: [collection.id],
              },
            ]
          : []),
      ],
      "write",
    );
    throw err;
  }
}
