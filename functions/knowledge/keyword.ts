import type { Client } from "@libsql/client";

/**
 * Keyword queries whose cost does not grow with how common their words are (in the spirit
 * of Lucene's "cutoff frequency"). Measured on 100k chunks: FTS5 finds matches almost for
 * free (~0.2 ms for any term) but bm25 (`ORDER BY rank`) costs ~1 µs per matching chunk: a
 * term in 2k chunks ranks in ~2 ms, one in 97k in ~160 ms. With skewed vocabulary most
 * queries hold such a word: the bench's keyword p95 was ~130 ms. So each term's chunks are
 * counted, up to MAX_RANKED (cheap), and the rarest terms are kept while their matches add
 * up to at most MAX_RANKED:
 *
 * - all kept: `a OR b OR c`, bm25-ranked, as before (so whenever few chunks match);
 * - some kept: only those are matched and ranked. The dropped ones are the most common,
 *   which weigh least in bm25 (its idf falls with the number of chunks a term is in), and
 *   ranking their matches is what costs. (Keeping them as score-only terms,
 *   `(kept) AND (all)`, was measured too, with a 2,000-chunk cut-off per term: keyword
 *   p95 12.5 ms instead of 7.8.)
 * - none (every term alone matches more): `a AND b`, ranked among its newest MAX_RANKED
 *   matches when it has more.
 */
export const MAX_RANKED = 4_000;

export interface KeywordQuery {
  /** the FTS5 MATCH expression */
  match: string;
  /** rank only rowids from here on (the newest matches), or 0 */
  minRowid: number;
}

const quote = (term: string) => `"${term.replaceAll('"', '""')}"`;

export async function keywordQuery(
  client: Client,
  ftsTable: string,
  terms: string[],
): Promise<KeywordQuery | undefined> {
  if (terms.length === 0) return undefined;
  const quoted = terms.map(quote);
  const conjunction = quoted.join(" AND ");
  const columns = quoted.map((_, i) => `t${i}`);
  const capped = (i: number) =>
    `(SELECT count(*) FROM (SELECT 1 FROM ${ftsTable} WHERE ${ftsTable} MATCH ?${i + 1} LIMIT ${MAX_RANKED + 1})) AS t${i}`;
  // one statement: a capped count per term, then (only when every term alone is over the
  // limit) the rowid of the conjunction's MAX_RANKED-th newest match
  const rs = await client.execute({
    sql: `WITH n AS MATERIALIZED (SELECT ${quoted.map((_, i) => capped(i)).join(", ")})
          SELECT ${columns.join(", ")}, CASE WHEN ${columns.map((t) => `${t} > ${MAX_RANKED}`).join(" AND ")}
            THEN (SELECT rowid FROM ${ftsTable} WHERE ${ftsTable} MATCH ?${quoted.length + 1} ORDER BY rowid DESC LIMIT 1 OFFSET ${MAX_RANKED - 1})
          END AS floor FROM n`,
    args: [...quoted, conjunction],
  });
  const row = rs.rows[0]!;
  const counts = columns.map((t) => Number(row[t]));
  const kept = new Set<number>();
  let ranked = 0;
  for (const i of counts.map((_, i) => i).sort((a, b) => counts[a]! - counts[b]!)) {
    if (ranked + counts[i]! > MAX_RANKED) break;
    ranked += counts[i]!;
    kept.add(i);
  }
  if (kept.size > 0) return { match: quoted.filter((_, i) => kept.has(i)).join(" OR "), minRowid: 0 };
  return { match: conjunction, minRowid: row.floor === null ? 0 : Number(row.floor) };
}
