/**
 * A small HTML → text converter for ingestion: enough for manuals and exported wiki pages,
 * not a browser. It keeps structure the chunker uses — <h1>…<h6> become Markdown ATX
 * headings, block elements become paragraph breaks, list items get "- " — and drops what is
 * never content (script, style, head, comments). A dependency (html-to-text, cheerio) would
 * do more, but the edge bundle stays small and nothing here needs a real DOM.
 */

const DROP = /<(script|style|head|noscript|template|svg|iframe)\b[^>]*>[\s\S]*?<\/\1\s*>/gi;
const COMMENT = /<!--[\s\S]*?-->/g;
const BLOCK =
  /^(p|div|section|article|main|header|footer|nav|aside|ul|ol|table|tr|blockquote|pre|figure|figcaption|dl|dt|dd|form|fieldset|hr|address)$/;

const NAMED: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: " ",
  mdash: "—",
  ndash: "–",
  hellip: "…",
  copy: "©",
  reg: "®",
  deg: "°",
  laquo: "«",
  raquo: "»",
  rsquo: "’",
  lsquo: "‘",
  rdquo: "”",
  ldquo: "“",
};

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, body: string) => {
    if (body[0] === "#") {
      const code =
        body[1] === "x" || body[1] === "X"
          ? Number.parseInt(body.slice(2), 16)
          : Number.parseInt(body.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : "\uFFFD";
    }
    return NAMED[body.toLowerCase()] ?? whole;
  });
}

/** The <title>, when there is one (used as the document title if the caller gives none). */
export function htmlTitle(html: string): string | undefined {
  const m = /<title\b[^>]*>([\s\S]*?)<\/title\s*>/i.exec(html);
  const title = m
    ? decodeEntities(m[1]!.replace(/<[^>]*>/g, ""))
        .replace(/\s+/g, " ")
        .trim()
    : "";
  return title || undefined;
}

/**
 * Converts HTML to text with Markdown headings. Whitespace inside a block collapses to one
 * space (as a browser renders it), except inside <pre>, which is kept verbatim.
 */
export function htmlToText(html: string): string {
  const source = html.replace(COMMENT, "").replace(DROP, "");
  const out: string[] = [];
  let pre = 0;
  const tag = /<\/?([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>/g;
  let last = 0;
  for (let m = tag.exec(source); m; m = tag.exec(source)) {
    out.push(textRun(source.slice(last, m.index), pre > 0));
    last = m.index + m[0].length;
    const name = m[1]!.toLowerCase();
    const closing = m[0][1] === "/";
    if (name === "pre") pre = Math.max(0, pre + (closing ? -1 : 1));
    if (/^h[1-6]$/.test(name)) out.push(closing ? "\n\n" : `\n\n${"#".repeat(Number(name[1]))} `);
    else if (name === "br") out.push("\n");
    else if (name === "li") out.push(closing ? "" : "\n- ");
    else if (name === "td" || name === "th") out.push(closing ? " " : "");
    else if (BLOCK.test(name)) out.push("\n\n");
  }
  out.push(textRun(source.slice(last), pre > 0));
  return out
    .join("")
    .replace(/[ \t]+\n/g, "\n")
    .replace(/\n[ \t]+/g, "\n")
    .replace(/\n{3,}/g, "\n\n")
    .replace(/^(#{1,6}) +\n+/gm, "") // a heading that held no text
    .replace(/^(#{1,6}) +/gm, "$1 ")
    .trim();
}

function textRun(raw: string, verbatim: boolean): string {
  const text = decodeEntities(raw);
  return verbatim ? text : text.replace(/\s+/g, " ");
}
