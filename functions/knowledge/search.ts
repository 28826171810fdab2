import type { InArgs, InStatement, Row } from "@libsql/client";
import type { Db } from "../../runtime/db.ts";
import type { FunctionContext } from "../../runtime/function.ts";
import { type Collection, checkEmbeddingModel, clientOf, requireCollection } from "./collections.ts";
import { embedAll } from "./embed.ts";
import { type KeywordQuery, keywordQuery } from "./keyword.ts";
import type { Filter, SearchHit, SearchInput, SearchMode } from "./schema.ts";
import { queryTerms, snippet } from "./snippet.ts";
import { vectorBlob } from "./tables.ts";

/** Reciprocal rank fusion constant (Cormack et al.): damps the head so one list cannot dominate. */
export const RRF_K = 60;
/** A filter matching at most this many chunks is searched exactly (a scan of just those rows). */
export const EXACT_FILTER_LIMIT = 20_000;
/** Over-fetch factor for filtered searches through the vector index. */
const FILTER_OVERFETCH = 10;

const COLUMNS = `c.id, c.document_id, c.text, c.heading_path, c.start, c."end", d.key, d.title, d.metadata`;
const JOIN_CHUNK =
  "JOIN knowledge_chunks c ON c.id = v.chunk_id JOIN knowledge_documents d ON d.id = c.document_id";

/** Metadata equality as SQL over `d.metadata`. json_type keeps true ≠ 1 and null ≠ missing. */
export function filterSql(filter: Filter | undefined): { sql: string; args: InArgs } {
  const parts: string[] = [];
  const args: Array<string | number> = [];
  for (const [key, value] of Object.entries(filter ?? {})) {
    const path = `$."${key}"`;
    const typed = (type: string) => `json_type(d.metadata, ?) ${type}`;
    if (value === null || typeof value === "boolean") {
      parts.push(typed(`= '${value}'`)); // JSON's own type names: 'null', 'true', 'false'
      args.push(path);
    } else {
      parts.push(
        `${typed(typeof value === "number" ? "IN ('integer', 'real')" : "= 'text'")} AND json_extract(d.metadata, ?) = ?`,
      );
      args.push(path, path, value);
    }
  }
  return { sql: parts.length ? parts.join(" AND ") : "1", args };
}

export async function search(ctx: FunctionContext, input: SearchInput) {
  const collection = await requireCollection(ctx.db, input.collection);
  checkEmbeddingModel(collection, input.embeddingModel);
  const hits = await searchCollection(ctx, collection, input.query, input.mode, input.k, input.filter);
  return { action: "search" as const, collection: collection.name, mode: input.mode, hits };
}

/**
 * The search itself: one read batch (one snapshot) for both lists, so hybrid never mixes two
 * versions of a document. Only the keyword plan (which terms to rank, see keyword.ts) is
 * read before it, while the query is embedded.
 */
export async function searchCollection(
  ctx: Pick<FunctionContext, "db" | "llm" | "signal">,
  collection: Collection,
  query: string,
  mode: SearchMode,
  k: number,
  filter?: Filter,
): Promise<SearchHit[]> {
  const terms = queryTerms(query);
  const depth = mode === "hybrid" ? Math.max(k * 2, 20) : k;
  const [keyword, vec] = await Promise.all([
    mode === "vector" ? undefined : keywordQuery(clientOf(ctx.db), collection.tables.ftsTable, terms),
    mode === "keyword"
      ? undefined
      : embedAll(ctx, [query], collection.embeddingModel, { dimension: collection.dimension }).then((v) =>
          vectorBlob(v[0]!),
        ),
  ]);
  const wantVector = vec !== undefined;
  const wantKeyword = keyword !== undefined;
  const where = filterSql(filter);
  const exact =
    wantVector && filter && (await countFiltered(ctx.db, collection, where)) <= EXACT_FILTER_LIMIT;
  const statements: InStatement[] = [];
  if (vec)
    statements.push(
      exact
        ? exactStatement(collection, vec, where, depth)
        : indexedStatement(collection, vec, where, depth, !!filter),
    );
  if (keyword) statements.push(keywordStatement(collection, keyword, vec, where, depth, !!filter));
  if (statements.length === 0) return [];
  const results = await clientOf(ctx.db).batch(statements, "read");
  const vectorRows = vec ? results[0]!.rows : [];
  const keywordRows = wantKeyword ? results[results.length - 1]!.rows : [];
  const toHit = (row: Row, score: number): SearchHit => ({
    chunkId: String(row.id),
    documentId: String(row.document_id),
    documentKey: String(row.key),
    title: row.title === null ? null : String(row.title),
    headingPath: JSON.parse(String(row.heading_path)) as string[],
    start: Number(row.start),
    end: Number(row.end),
    text: String(row.text),
    snippet: snippet(String(row.text), terms),
    score,
    similarity: row.dist === null || row.dist === undefined ? null : 1 - Number(row.dist),
    metadata: JSON.parse(String(row.metadata)) as Record<string, unknown>,
  });
  if (mode === "vector") return vectorRows.map((r) => toHit(r, 1 - Number(r.dist)));
  if (mode === "keyword") return keywordRows.map((r) => toHit(r, -Number(r.bm)));
  return fuse([vectorRows, keywordRows], k).map(({ row, score }) => toHit(row, score));
}

/** Reciprocal rank fusion: score = Σ 1 / (RRF_K + rank) over the lists a chunk appears in. */
export function fuse(lists: Row[][], k: number): Array<{ row: Row; score: number }> {
  const fused = new Map<string, { row: Row; score: number }>();
  for (const list of lists) {
    list.forEach((row, rank) => {
      const id = String(row.id);
      const entry = fused.get(id) ?? { row, score: 0 };
      entry.score += 1 / (RRF_K + rank + 1);
      fused.set(id, entry);
    });
  }
  return [...fused.values()].sort((a, b) => b.score - a.score).slice(0, k);
}

async function countFiltered(db: Db, c: Collection, where: { sql: string; args: InArgs }): Promise<number> {
  const rs = await clientOf(db).execute({
    sql: `SELECT coalesce(sum(d.chunk_count), 0) AS n FROM knowledge_documents d WHERE d.collection_id = ? AND ${where.sql}`,
    args: [c.id, ...(where.args as unknown[])] as InArgs,
  });
  return Number(rs.rows[0]?.n ?? 0);
}

/** Approximate nearest neighbours through the collection's vector index (DiskANN). */
function indexedStatement(
  c: Collection,
  vec: Uint8Array,
  where: { sql: string; args: InArgs },
  k: number,
  filtered: boolean,
): InStatement {
  const fetch = filtered ? k * FILTER_OVERFETCH : k;
  return {
    sql: `SELECT ${COLUMNS}, vector_distance_cos(v.embedding, ?) AS dist
          FROM vector_top_k('${c.tables.vectorIndex}', ?, ?) t JOIN ${c.tables.vectorTable} v ON v.rid = t.id ${JOIN_CHUNK}
          WHERE ${where.sql} ORDER BY dist LIMIT ?`,
    args: [vec, vec, fetch, ...(where.args as unknown[]), k] as InArgs,
  };
}

/** Exact distances over the chunks a selective filter leaves: better recall than over-fetching the index. */
function exactStatement(
  c: Collection,
  vec: Uint8Array,
  where: { sql: string; args: InArgs },
  k: number,
): InStatement {
  return {
    sql: `SELECT ${COLUMNS}, vector_distance_cos(v.embedding, ?) AS dist
          FROM knowledge_documents d JOIN knowledge_chunks c ON c.document_id = d.id JOIN ${c.tables.vectorTable} v ON v.chunk_id = c.id
          WHERE d.collection_id = ? AND ${where.sql} ORDER BY dist LIMIT ?`,
    args: [vec, c.id, ...(where.args as unknown[]), k] as InArgs,
  };
}

/** bm25 over the collection's FTS table (see keyword.ts); the distance is computed only for the top rows. */
function keywordStatement(
  c: Collection,
  keyword: KeywordQuery,
  vec: Uint8Array | undefined,
  where: { sql: string; args: InArgs },
  k: number,
  filtered: boolean,
): InStatement {
  const fts = c.tables.ftsTable;
  const inner = filtered
    ? `SELECT f.rowid AS rid, f.rank AS bm FROM ${fts} f JOIN ${c.tables.vectorTable} v ON v.rid = f.rowid ${JOIN_CHUNK} WHERE f.${fts} MATCH ? AND f.rowid >= ? AND ${where.sql} ORDER BY f.rank LIMIT ?`
    : `SELECT rowid AS rid, rank AS bm FROM ${fts} WHERE ${fts} MATCH ? AND rowid >= ? ORDER BY rank LIMIT ?`;
  const { match, minRowid } = keyword;
  const innerArgs = filtered ? [match, minRowid, ...(where.args as unknown[]), k] : [match, minRowid, k];
  return {
    sql: `WITH kw AS MATERIALIZED (${inner})
          SELECT ${COLUMNS}, ${vec ? "vector_distance_cos(v.embedding, ?)" : "NULL"} AS dist, kw.bm AS bm
          FROM kw JOIN ${c.tables.vectorTable} v ON v.rid = kw.rid ${JOIN_CHUNK} ORDER BY kw.bm`,
    args: [...innerArgs, ...(vec ? [vec] : [])] as InArgs,
  };
}
