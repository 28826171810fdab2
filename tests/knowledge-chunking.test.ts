import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chunkText } from "../functions/knowledge/chunk.ts";
import { htmlToText } from "../functions/knowledge/html.ts";
import { tokensToChars, wellFormed } from "../functions/knowledge/tokens.ts";

const word = fc.stringMatching(/^[a-zA-Zéß0-9]{1,12}$/);
const sentence = fc.array(word, { minLength: 1, maxLength: 25 }).map((ws) => `${ws.join(" ")}.`);
const paragraph = fc.array(sentence, { minLength: 1, maxLength: 8 }).map((ss) => ss.join(" "));
const heading = fc
  .tuple(fc.integer({ min: 1, max: 3 }), word)
  .map(([level, w]) => `${"#".repeat(level)} ${w}`);
const doc = fc
  .array(fc.oneof(paragraph, paragraph, heading), { minLength: 1, maxLength: 30 })
  .map((blocks) => blocks.join("\n\n"));
const opts = fc.record({
  chunkTokens: fc.integer({ min: 16, max: 200 }),
  overlapTokens: fc.integer({ min: 0, max: 40 }),
});

describe("chunking", () => {
  it("loses no text: every non-space character is inside some chunk", () => {
    fc.assert(
      fc.property(doc, opts, (text, o) => {
        const covered = new Uint8Array(text.length);
        for (const c of chunkText(text, o)) covered.fill(1, c.start, c.end);
        for (let i = 0; i < text.length; i++)
          if (!/\s/.test(text[i]!)) expect(covered[i], `char ${i}`).toBe(1);
      }),
      { numRuns: 200 },
    );
  });

  it("offsets point at the chunk's text, and chunks stay within the size", () => {
    fc.assert(
      fc.property(doc, opts, (text, o) => {
        for (const c of chunkText(text, o)) {
          expect(text.slice(c.start, c.end)).toBe(c.text);
          expect(c.text.length).toBeLessThanOrEqual(tokensToChars(o.chunkTokens));
          expect(c.text).toBe(c.text.trim());
        }
      }),
      { numRuns: 200 },
    );
  });

  it("consecutive chunks of a section overlap by at most the configured overlap, and by some when asked", () => {
    fc.assert(
      fc.property(doc, opts, (text, o) => {
        const chunks = chunkText(text, o);
        const max = Math.min(tokensToChars(o.overlapTokens), Math.floor(tokensToChars(o.chunkTokens) / 2));
        for (let i = 1; i < chunks.length; i++) {
          const [a, b] = [chunks[i - 1]!, chunks[i]!];
          if (a.headingPath.join("/") !== b.headingPath.join("/") || b.start >= a.end) continue;
          expect(a.end - b.start).toBeLessThanOrEqual(max);
          expect(b.start).toBeGreaterThan(a.start); // always progresses
        }
        if (o.overlapTokens === 0) {
          for (let i = 1; i < chunks.length; i++)
            expect(chunks[i]!.start).toBeGreaterThanOrEqual(chunks[i - 1]!.end);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("a long section with overlap configured really overlaps, at word starts", () => {
    const text = Array.from({ length: 200 }, (_, i) => `word${i}`).join(" ");
    const chunks = chunkText(text, { chunkTokens: 20, overlapTokens: 5 });
    expect(chunks.length).toBeGreaterThan(5);
    for (let i = 1; i < chunks.length; i++) {
      const overlap = chunks[i - 1]!.end - chunks[i]!.start;
      expect(overlap).toBeGreaterThan(0);
      expect(overlap).toBeLessThanOrEqual(20);
      expect(text[chunks[i]!.start - 1]).toBe(" ");
    }
  });

  it("keeps the heading path and prefers paragraph, then sentence breaks", () => {
    const text =
      "# Pump X\n\nIntro.\n\n## Reset\n\nFirst sentence here. Second sentence here.\n\nThird paragraph.\n\n# Valve\n\nClose it.";
    const chunks = chunkText(text, { chunkTokens: 8, overlapTokens: 0 });
    expect(chunks.map((c) => c.headingPath)).toEqual([
      ["Pump X"],
      ["Pump X", "Reset"],
      ["Pump X", "Reset"],
      ["Pump X", "Reset"],
      ["Valve"],
    ]);
    expect(chunks[2]!.text).toBe("Second sentence here.");
    expect(chunks[3]!.text).toBe("Third paragraph.");
  });

  it("never splits a surrogate pair on a hard cut", () => {
    const text = "😀".repeat(100);
    for (const c of chunkText(text, { chunkTokens: 3, overlapTokens: 0 })) {
      expect(c.text).toBe(wellFormed(c.text));
    }
  });
});

describe("HTML to text", () => {
  it("keeps headings as Markdown, drops scripts and styles, decodes entities", () => {
    const html = `<html><head><title>T</title><style>p{}</style></head><body>
      <h1>Pump &amp; valve</h1><p>Hold the <b>red</b>
      button.</p><script>alert(1)</script><h2>Steps</h2><ul><li>One</li><li>Two&nbsp;&#x41;</li></ul></body></html>`;
    expect(htmlToText(html)).toBe("# Pump & valve\n\nHold the red button.\n\n## Steps\n\n- One\n- Two A");
  });
});
