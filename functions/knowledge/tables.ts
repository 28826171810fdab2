import type { Client, InStatement } from "@libsql/client";

/**
 * The per-collection search index tables. Why per collection, created at run time:
 *
 * - libsql_vector_idx needs a fixed-dimension column (F32_BLOB(n)), and collections use
 *   different models (384, 768, 1024 dims...). One table per collection fixes its dimension.
 * - vector_top_k searches a whole index. A shared index would return other collections'
 *   neighbours, leaving too few (or none) of ours after filtering; a per-collection index
 *   answers exactly the collection asked.
 * - A reindex with another model builds the next generation's tables beside the live ones
 *   and swaps them in one transaction: searches never see a half-built index.
 *
 * Layout: `kb_vec_<id>_<gen>(rid INTEGER PRIMARY KEY, chunk_id UNIQUE, embedding F32_BLOB(n))`
 * is the local integer key of each chunk (rid is an explicit rowid alias, so VACUUM never
 * renumbers it); `kb_fts_<id>_<gen>` is a contentless FTS5 table whose rowid is that rid
 * (the text lives once, in knowledge_chunks; snippets are built from it in JS).
 */
export interface IndexTables {
  vectorTable: string;
  ftsTable: string;
  /** the vector index's name, as vector_top_k wants it */
  vectorIndex: string;
}

const IDENT = /^kb_(vec|fts)_[0-9a-f]{32}_\d{1,6}$/;

/** Whether `name` is one of our index tables (names are spliced into SQL: check them, always). */
export const isIndexTable = (name: string, kind?: "vec" | "fts"): boolean =>
  IDENT.test(name) && (kind === undefined || name.startsWith(`kb_${kind}_`));

export function tableNames(collectionId: string, generation: number): IndexTables {
  const hex = collectionId.replaceAll("-", "").toLowerCase();
  const names = {
    vectorTable: `kb_vec_${hex}_${generation}`,
    ftsTable: `kb_fts_${hex}_${generation}`,
  };
  // Names are spliced into SQL (identifiers cannot be bound): check them, always.
  for (const n of Object.values(names))
    if (!isIndexTable(n)) throw new Error(`knowledge: bad index table name ${n}`);
  return { ...names, vectorIndex: `${names.vectorTable}_idx` };
}

export const vectorIndexName = (vectorTable: string): string => `${vectorTable}_idx`;

export function createTableStatements(t: IndexTables, dimension: number): InStatement[] {
  if (!Number.isInteger(dimension) || dimension < 1 || dimension > 65_536) {
    throw new Error(`knowledge: embedding dimension ${dimension} is out of range`);
  }
  return [
    `CREATE TABLE IF NOT EXISTS ${t.vectorTable} (rid INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE, embedding F32_BLOB(${dimension}) NOT NULL)`,
    // The DiskANN graph (libSQL's vector index). Its insert is the cost of ingest: each new
    // row walks the graph (insert_l candidates) and rewrites the nodes it links to. Measured
    // with the bench's vectors (384 dims, 100 rows a transaction; 100k rows unless said):
    // - metric=cosine: what embedding models are trained for (1-bit neighbours require it).
    // - compress_neighbors=float1bit: neighbour copies of 48 bytes instead of 392 (float8),
    //   so a node (its float32 vector + 32 neighbours) is ~3.6 KB, one page, not ~14 KB: at
    //   20k rows and equal insert_l/search_l the graph built in 31 s instead of 83 s. The
    //   copies only steer the walk; visited nodes are ranked by their float32 vectors.
    // - max_neighbors=32: the most that fits one 4 KB page; 16 was no cheaper (1.40 vs 1.45
    //   ms CPU a row at 20k) and lost recall; 48 spills into overflow pages.
    // - insert_l=12 (default 70): 494 rows/s, recall@10 0.99; 16: 382 rows/s, 0.99; 40: 238
    //   rows/s, 0.99; 8: 479 rows/s but recall 0.94-0.96.
    // - search_l=120 (default 200): a query visits ~120 nodes, 2.4 ms, recall 0.97-0.99;
    //   200 took 4.4-5 ms for 0.99. (A full scan: 210-250 ms.)
    // Altogether, at 10k rows: 1,156 rows/s vs 202 for the previous index (float8, default
    // insert_l/search_l), recall 1.0 both. On structureless vectors (isotropic noise, unlike
    // text embeddings) recall falls to 0.27, from 0.80: the price of the cheap graph.
    `CREATE INDEX IF NOT EXISTS ${t.vectorIndex} ON ${t.vectorTable} (libsql_vector_idx(embedding, 'metric=cosine', 'compress_neighbors=float1bit', 'max_neighbors=32', 'insert_l=12', 'search_l=120'))`,
    // unicode61 + diacritics folded: keyword search across languages without a stemmer
    // that would only suit English; contentless_delete lets rows be deleted by rowid
    `CREATE VIRTUAL TABLE IF NOT EXISTS ${t.ftsTable} USING fts5(text, heading, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2')`,
  ];
}

export function dropTableStatements(t: Pick<IndexTables, "vectorTable" | "ftsTable">): InStatement[] {
  return [
    `DROP INDEX IF EXISTS ${vectorIndexName(t.vectorTable)}`,
    `DROP TABLE IF EXISTS ${t.vectorTable}`,
    `DROP TABLE IF EXISTS ${t.ftsTable}`,
  ];
}

/** Index entries of one document's chunks: FTS rows first (they are found through the vector table's rids). */
export function deleteDocumentEntries(
  t: Pick<IndexTables, "vectorTable" | "ftsTable">,
  documentId: string,
): InStatement[] {
  const rids = `SELECT v.rid FROM ${t.vectorTable} v JOIN knowledge_chunks c ON c.id = v.chunk_id WHERE c.document_id = ?`;
  return [
    { sql: `DELETE FROM ${t.ftsTable} WHERE rowid IN (${rids})`, args: [documentId] },
    {
      sql: `DELETE FROM ${t.vectorTable} WHERE chunk_id IN (SELECT id FROM knowledge_chunks WHERE document_id = ?)`,
      args: [documentId],
    },
  ];
}

/** Rows per multi-row INSERT: the fastest bulk path measured on libSQL, far below the bound-parameter limit. */
export const ROWS_PER_INSERT = 500;

/** Vector rows for chunks already inserted (by chunk id), then their FTS rows, in the same batch. */
export function insertEntries(
  t: IndexTables,
  rows: Array<{ chunkId: string; embedding: Float32Array }>,
  documentId?: string,
): InStatement[] {
  const out: InStatement[] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    const slice = rows.slice(i, i + ROWS_PER_INSERT);
    out.push({
      sql: `INSERT INTO ${t.vectorTable} (chunk_id, embedding) VALUES ${slice.map(() => "(?, ?)").join(", ")}`,
      args: slice.flatMap((r) => [r.chunkId, vectorBlob(r.embedding)]),
    });
  }
  if (documentId !== undefined) {
    out.push({
      sql: `INSERT INTO ${t.ftsTable} (rowid, text, heading) SELECT v.rid, c.text, c.heading_path FROM knowledge_chunks c JOIN ${t.vectorTable} v ON v.chunk_id = c.id WHERE c.document_id = ?`,
      args: [documentId],
    });
  }
  return out;
}

/** A Float32Array as the bytes an F32_BLOB column stores (little-endian float32s). */
export const vectorBlob = (v: Float32Array): Uint8Array =>
  new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

export async function tableExists(client: Client, name: string): Promise<boolean> {
  const rs = await client.execute({ sql: "SELECT 1 FROM sqlite_master WHERE name = ?", args: [name] });
  return rs.rows.length > 0;
}
