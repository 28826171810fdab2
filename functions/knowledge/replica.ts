import type { Client } from "@libsql/client";
import type { Logger } from "../../runtime/log.ts";
import { setIndexRow } from "./index-row.ts";
import {
  createTableStatements,
  deleteDocumentEntries,
  dropTableStatements,
  type IndexTables,
  insertEntries,
  isIndexTable,
  tableNames,
  vectorIndexName,
} from "./tables.ts";
import { encodedLength } from "./vector-codec.ts";

/*
 * Edge side of distributed collections. Sync delivers a server's distributed collections,
 * documents and chunks — vectors included — as plain rows; the search indexes (vector
 * table + FTS5) are local and derived, so this brings them level with those rows:
 *
 * - a document is indexed once ALL its chunks (chunk_count) have arrived with vectors of
 *   the collection's dimension, all of it in one transaction: a pull page that ends in
 *   the middle of a document never makes half of it searchable;
 * - index entries whose chunk is gone (a re-ingested or deleted document) are removed;
 * - a collection whose model changed on the server is rebuilt into the next generation's
 *   tables and swapped in at once (searches answer INDEX_STALE meanwhile, never mixed
 *   vectors);
 * - index tables of collections deleted by sync are dropped.
 *
 * Idempotent and restartable: everything it needs to know is in the rows, so it runs after
 * every pull that moved something and once at start (a crash in between loses nothing).
 */

export interface ReplicaIndexResult {
  /** replicated collections looked at */
  collections: number;
  /** documents (re)indexed */
  documents: number;
  /** chunks written to the index */
  chunks: number;
  /** index entries removed because their chunk is gone */
  removed: number;
  /** documents still waiting for chunks (or with vectors of the wrong size) */
  waiting: number;
}

interface CollectionRow {
  id: string;
  name: string;
  model: string;
  dimension: number;
  /** changes when the server re-embeds the collection (reindex): vectors older than this are stale */
  updatedAt: number;
}

interface IndexRow {
  vectorTable: string;
  ftsTable: string;
  model: string;
  dimension: number;
  generation: number;
  /** for a replica: the collection's updated_at its vectors were built from */
  builtFrom: number;
}

const tablesOf = (vectorTable: string, ftsTable: string): IndexTables => ({
  vectorTable,
  ftsTable,
  vectorIndex: vectorIndexName(vectorTable),
});

/** Brings this edge's search indexes level with the replicated knowledge rows. */
export async function indexReplicas(
  client: Client,
  log?: Logger,
  signal?: AbortSignal,
): Promise<ReplicaIndexResult> {
  const result: ReplicaIndexResult = { collections: 0, documents: 0, chunks: 0, removed: 0, waiting: 0 };
  await dropDeletedCollectionTables(client);
  const collections = (
    await client.execute(
      "SELECT id, name, embedding_model, dimension, updated_at FROM knowledge_collections WHERE distributed = 1 ORDER BY name",
    )
  ).rows.map(
    (r): CollectionRow => ({
      id: String(r.id),
      name: String(r.name),
      model: String(r.embedding_model),
      dimension: Number(r.dimension),
      updatedAt: Number(r.updated_at),
    }),
  );
  for (const collection of collections) {
    if (signal?.aborted) break;
    result.collections++;
    await indexCollection(client, collection, result, log, signal);
  }
  return result;
}

async function indexCollection(
  client: Client,
  collection: CollectionRow,
  result: ReplicaIndexResult,
  log?: Logger,
  signal?: AbortSignal,
): Promise<void> {
  const current = await readIndex(client, collection.id);
  // A reindex on the server (another model, or the same one re-run) bumps the collection's
  // updated_at: every vector changes, so the index is rebuilt rather than patched.
  const fits =
    current &&
    current.model === collection.model &&
    current.dimension === collection.dimension &&
    current.builtFrom >= collection.updatedAt;
  if (current && fits) {
    const tables = tablesOf(current.vectorTable, current.ftsTable);
    result.removed += await removeOrphans(client, tables);
    await indexDocuments(client, collection, tables, result, log, signal);
    return;
  }
  // No index yet, or one built from older vectors: fill the next generation, then swap it in.
  const generation = current ? current.generation + 1 : 1;
  const next = tableNames(collection.id, generation);
  await client.batch(
    [...dropTableStatements(next), ...createTableStatements(next, collection.dimension)],
    "write",
  );
  await indexDocuments(client, collection, next, result, log, signal);
  // Stopped part-way (shutdown): the next pass drops this generation and starts it again.
  if (signal?.aborted) return;
  await client.batch(
    [
      // updated_at records the collection version the vectors came from (see `fits`)
      setIndexRow(
        collection.id,
        next,
        { embeddingModel: collection.model, dimension: collection.dimension, generation },
        collection.updatedAt,
      ),
      ...(current ? dropTableStatements(current) : []),
    ],
    "write",
  );
  log?.info("knowledge: replicated collection indexed", {
    collection: collection.name,
    model: collection.model,
    generation,
  });
}

async function readIndex(client: Client, collectionId: string): Promise<IndexRow | undefined> {
  const r = (
    await client.execute({
      sql: "SELECT vector_table, fts_table, embedding_model, dimension, generation, updated_at FROM knowledge_indexes WHERE collection_id = ?",
      args: [collectionId],
    })
  ).rows[0];
  if (!r) return undefined;
  return {
    vectorTable: String(r.vector_table),
    ftsTable: String(r.fts_table),
    model: String(r.embedding_model),
    dimension: Number(r.dimension),
    generation: Number(r.generation),
    builtFrom: Number(r.updated_at),
  };
}

/** Index entries of chunks that no longer exist (their document was replaced or deleted). */
async function removeOrphans(client: Client, t: IndexTables): Promise<number> {
  const gone = `SELECT rid FROM ${t.vectorTable} WHERE chunk_id NOT IN (SELECT id FROM knowledge_chunks)`;
  const rs = await client.batch(
    [
      `DELETE FROM ${t.ftsTable} WHERE rowid IN (${gone})`,
      `DELETE FROM ${t.vectorTable} WHERE rid IN (${gone})`,
    ],
    "write",
  );
  return rs[1]!.rowsAffected;
}

/**
 * Documents complete here but not (fully) in these tables. Complete: every chunk has arrived
 * with a vector of the collection's current version — the right size, and stamped no
 * earlier than the collection row (a reindex stamps both alike; a chunk still carrying the
 * previous model's vector is older). A document is indexed in one transaction, in SQL:
 * the hex vectors go into the index with unhex().
 */
async function indexDocuments(
  client: Client,
  collection: CollectionRow,
  t: IndexTables,
  result: ReplicaIndexResult,
  log?: Logger,
  signal?: AbortSignal,
): Promise<void> {
  const docs = await client.execute({
    // This runs after every pull: `current` reads each chunk's vector text (kilobytes), so it
    // is counted only for the documents not already fully indexed (CASE evaluates lazily).
    sql: `SELECT id, chunk_count, indexed,
            CASE WHEN indexed = chunk_count THEN chunk_count ELSE
              (SELECT count(*) FROM knowledge_chunks c WHERE c.document_id = i.id
                 AND length(c.embedding) = ? AND c.updated_at >= ?) END AS current
          FROM (SELECT d.id, d.chunk_count,
                  (SELECT count(*) FROM knowledge_chunks c JOIN ${t.vectorTable} v ON v.chunk_id = c.id WHERE c.document_id = d.id) AS indexed
                FROM knowledge_documents d WHERE d.collection_id = ?) AS i
          ORDER BY id`,
    args: [encodedLength(collection.dimension), collection.updatedAt, collection.id],
  });
  for (const d of docs.rows) {
    if (signal?.aborted) return;
    const count = Number(d.chunk_count);
    if (Number(d.indexed) === count) continue;
    if (Number(d.current) !== count) {
      result.waiting++;
      continue;
    }
    const documentId = String(d.id);
    const rs = await client.batch(
      [
        ...deleteDocumentEntries(t, documentId),
        {
          sql: `INSERT INTO ${t.vectorTable} (chunk_id, embedding) SELECT id, unhex(embedding) FROM knowledge_chunks WHERE document_id = ? ORDER BY ordinal`,
          args: [documentId],
        },
        ...insertEntries(t, [], documentId), // the FTS rows of the vector rows just written
      ],
      "write",
    );
    result.documents++;
    result.chunks += rs[rs.length - 2]!.rowsAffected;
  }
  if (result.waiting > 0)
    log?.info("knowledge: replicated documents waiting for chunks or vectors", {
      collection: collection.name,
      waiting: result.waiting,
    });
}

/**
 * Index tables whose collection no longer exists here (deleted on the server; the
 * collection row's delete cascaded to knowledge_indexes but tables need dropping).
 * Tables of live collections are left alone: a local reindex builds its next generation
 * before any row points at it.
 */
async function dropDeletedCollectionTables(client: Client): Promise<void> {
  const rs = await client.execute(
    `SELECT name FROM sqlite_master WHERE type = 'table' AND (name LIKE 'kb\\_vec\\_%' ESCAPE '\\' OR name LIKE 'kb\\_fts\\_%' ESCAPE '\\')
       AND substr(name, 8, 32) NOT IN (SELECT lower(replace(id, '-', '')) FROM knowledge_collections)`,
  );
  const names = rs.rows.map((r) => String(r.name)).filter((n) => isIndexTable(n));
  if (names.length === 0) return;
  const stmts = names.flatMap((n) =>
    n.startsWith("kb_vec_")
      ? dropTableStatements({ vectorTable: n, ftsTable: n.replace("kb_vec_", "kb_fts_") })
      : [`DROP TABLE IF EXISTS ${n}`],
  );
  await client.batch(stmts, "write");
}

export interface ReplicaIndexer {
  /** Asks for a pass; returns at once. A pass already running is followed by one more. */
  kick(): void;
  /** Resolves when no pass is running or pending (tests). */
  idle(): Promise<void>;
  /** Stops between documents (every indexed one is complete) and waits; kicks are ignored after. */
  close(): Promise<void>;
  /** The last pass's result, and its error if it failed. */
  last(): { result: ReplicaIndexResult | null; error: string | null; at: string | null };
}

/**
 * Runs indexReplicas in the background, one pass at a time: building the index of a big
 * distributed collection can take minutes on a small box, and a sync round (or the
 * POST /v1/sync/now that asked for it) must not wait for it.
 */
export function createReplicaIndexer(client: Client, log?: Logger): ReplicaIndexer {
  let running: Promise<void> | null = null;
  let again = false;
  let result: ReplicaIndexResult | null = null;
  let error: string | null = null;
  let at: string | null = null;
  const stop = new AbortController();
  const loop = async () => {
    do {
      again = false;
      try {
        result = await indexReplicas(client, log, stop.signal);
        error = null;
        if (result.documents > 0 || result.removed > 0)
          log?.info("knowledge: replicated collections indexed", { ...result });
      } catch (err) {
        error = (err as Error).message;
        log?.warn("knowledge: indexing replicated collections failed", { err: error });
      }
      at = new Date().toISOString();
    } while (again && !stop.signal.aborted);
    running = null;
  };
  return {
    kick() {
      if (stop.signal.aborted) return;
      if (running) again = true;
      else running = loop();
    },
    async idle() {
      while (running) await running;
    },
    async close() {
      stop.abort();
      while (running) await running;
    },
    last: () => ({ result, error, at }),
  };
}
