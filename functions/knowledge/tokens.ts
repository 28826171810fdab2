/**
 * Approximate token counts: ~4 characters a token, the usual rule of thumb for English
 * with BPE tokenizers (Ollama's countTokens estimate uses 3, which is conservative for
 * prompts; for chunk sizing a slight overestimate of the size is harmless either way).
 * Chunking must be deterministic and fast, and must not depend on which model a node
 * has loaded, so it never calls the tokenizer.
 */
export const CHARS_PER_TOKEN = 4;

export const approxTokens = (text: string): number => Math.ceil(text.length / CHARS_PER_TOKEN);

export const tokensToChars = (tokens: number): number => tokens * CHARS_PER_TOKEN;

/**
 * Replaces lone UTF-16 surrogates with U+FFFD. libSQL can crash the process when it reads
 * back text holding them (written through SQL JSON functions), and a lone surrogate is
 * never meaningful text, so everything stored is made well-formed first.
 */
export function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
}
