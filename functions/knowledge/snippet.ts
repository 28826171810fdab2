/**
 * Snippets are built in JS from the chunk text (the FTS table is contentless, and vector
 * hits have no FTS match to highlight anyway): the ~`width` characters around the densest
 * cluster of query terms, HTML-escaped, each term wrapped in <mark>. Escaping makes a
 * snippet safe to drop into a page even when the document was HTML.
 */

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Query words as FTS5's unicode61 tokenizer sees them: letters and digits, case-folded. */
export function queryTerms(query: string): string[] {
  const words =
    query
      .toLowerCase()
      .normalize("NFKD")
      .replace(/\p{M}/gu, "")
      .match(/[\p{L}\p{N}]+/gu) ?? [];
  return [...new Set(words)].slice(0, 32);
}

export function snippet(text: string, terms: string[], width = 240): string {
  const folded = text.toLowerCase();
  const spans: Array<[number, number]> = [];
  for (const term of terms) {
    if (term.length < 2) continue;
    const re = new RegExp(`(?<![\\p{L}\\p{N}])${term.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`, "gu");
    for (const m of folded.matchAll(re)) {
      // extend to the end of the word: "pump" also highlights "pumps"
      let end = m.index + term.length;
      while (end < text.length && /[\p{L}\p{N}]/u.test(text[end]!)) end++;
      spans.push([m.index, end]);
    }
  }
  spans.sort((a, b) => a[0] - b[0]);
  let from = 0;
  if (spans.length > 0 && text.length > width) {
    // the window start that covers the most matches
    let best = 0;
    let bestCount = 0;
    for (let i = 0, j = 0; i < spans.length; i++) {
      while (j < spans.length && spans[j]![1] <= spans[i]![0] + width) j++;
      if (j - i > bestCount) [best, bestCount] = [i, j - i];
    }
    from = Math.max(0, spans[best]![0] - Math.floor(width / 4));
  }
  const to = Math.min(text.length, from + width);
  let out = from > 0 ? "…" : "";
  let at = from;
  for (const [s, e] of spans) {
    if (s < at || e > to) continue;
    out += `${escapeHtml(text.slice(at, s))}<mark>${escapeHtml(text.slice(s, e))}</mark>`;
    at = e;
  }
  return out + escapeHtml(text.slice(at, to)) + (to < text.length ? "…" : "");
}
