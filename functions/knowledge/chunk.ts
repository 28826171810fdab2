import { approxTokens, tokensToChars } from "./tokens.ts";

export interface ChunkOptions {
  /** most tokens a chunk holds (approximate: ~4 chars a token) */
  chunkTokens: number;
  /** tokens a chunk repeats from the end of the previous one in the same section */
  overlapTokens: number;
}

export interface Chunk {
  text: string;
  /** the headings above the chunk, outermost first */
  headingPath: string[];
  /** char offsets [start, end) into the text that was chunked: text === source.slice(start, end) */
  start: number;
  end: number;
  tokens: number;
}

interface Section {
  headingPath: string[];
  start: number;
  end: number;
}

const HEADING = /^(#{1,6})[ \t]+(.+?)[ \t#]*$/gm;

/**
 * Splits a document (plain text, or Markdown / converted HTML with ATX `#` headings) into
 * chunks, recursively: first into sections at headings (a chunk never spans two sections,
 * so its heading path is exact), then each section at the best break that keeps a chunk
 * within `chunkTokens` — a paragraph break, else a sentence end, else a space, else a hard
 * cut. Consecutive chunks of a section overlap by at most `overlapTokens` (snapped to a word
 * start). Every chunk is an exact slice of the input, so its offsets are citations.
 */
export function chunkText(source: string, opts: ChunkOptions): Chunk[] {
  const maxChars = Math.max(1, tokensToChars(opts.chunkTokens));
  const overlapChars = Math.min(tokensToChars(opts.overlapTokens), Math.floor(maxChars / 2));
  const chunks: Chunk[] = [];
  for (const section of sections(source)) {
    let pos = skipSpace(source, section.start, section.end);
    while (pos < section.end) {
      const end = trimEnd(source, pos, breakAt(source, pos, section.end, maxChars));
      const text = source.slice(pos, end);
      chunks.push({ text, headingPath: section.headingPath, start: pos, end, tokens: approxTokens(text) });
      const rest = skipSpace(source, end, section.end);
      if (rest >= section.end) break;
      pos = overlapChars > 0 ? overlapStart(source, pos, end, overlapChars) : rest;
      if (pos >= end) pos = rest;
    }
  }
  return chunks;
}

/** Sections between headings; the heading line belongs to the section it opens. */
export function sections(source: string): Section[] {
  const out: Section[] = [];
  const stack: Array<{ level: number; title: string }> = [];
  let start = 0;
  let path: string[] = [];
  for (const m of source.matchAll(HEADING)) {
    if (m.index > start) out.push({ headingPath: path, start, end: m.index });
    const level = m[1]!.length;
    while (stack.length > 0 && stack[stack.length - 1]!.level >= level) stack.pop();
    stack.push({ level, title: m[2]!.trim() });
    path = stack.map((h) => h.title);
    start = m.index;
  }
  if (source.length > start) out.push({ headingPath: path, start, end: source.length });
  return out;
}

/**
 * The end of a chunk starting at `pos`: the section end if it fits, else the last
 * paragraph break, sentence end or space in the window's second half (so chunks do not
 * come out tiny), else a hard cut that never splits a surrogate pair.
 */
function breakAt(source: string, pos: number, limit: number, maxChars: number): number {
  if (limit - pos <= maxChars) return limit;
  const hard = pos + maxChars;
  const window = source.slice(pos, hard + 1); // +1: a break right after the window still counts
  const floor = Math.floor(maxChars / 2);
  for (const re of [/\n[ \t]*\n/g, /[.!?。][)"'\]]*\s/g, /\s/g]) {
    let best = -1;
    for (const m of window.matchAll(re)) {
      // the break's own whitespace is trimmed off the chunk, so it may sit just past the window
      const end = m.index + m[0].length;
      if (end <= maxChars + 1 && end >= floor) best = end;
    }
    if (best > 0) return pos + best;
  }
  const code = source.charCodeAt(hard - 1);
  return code >= 0xd800 && code <= 0xdbff ? hard - 1 : hard;
}

/** Where the next chunk starts: at most `overlapChars` before `end`, at a word start. */
function overlapStart(source: string, pos: number, end: number, overlapChars: number): number {
  let at = Math.max(pos + 1, end - overlapChars);
  // move forward to the start of a word so the overlap does not begin mid-word
  while (at < end && !/\s/.test(source[at - 1]!)) at++;
  return skipSpace(source, at, end);
}

function skipSpace(source: string, pos: number, limit: number): number {
  while (pos < limit && /\s/.test(source[pos]!)) pos++;
  return pos;
}

function trimEnd(source: string, start: number, end: number): number {
  while (end > start && /\s/.test(source[end - 1]!)) end--;
  return end;
}
