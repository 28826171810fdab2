/**
 * What the fake Ollama says when a test has not scripted an answer: deterministic text,
 * embeddings and schema-shaped JSON derived from the request, so tests can assert on them
 * and two runs never differ.
 */

/** One scripted answer for /api/chat or /api/generate (see FakeOllama.script). */
export interface ScriptedAnswer {
  /** the answer text; default: deterministic text from the prompt (or schema-shaped JSON) */
  content?: string;
  /** exact streaming pieces (overrides how `content` is split) */
  tokens?: string[];
  /** chat only: tool calls the model makes after its content */
  toolCalls?: Array<{ name: string; arguments: Record<string, unknown> }>;
  /** sent before the content in `message.thinking` / `thinking` */
  thinking?: string;
  /** answer with this error status and `{error}` body instead (before any stream starts) */
  error?: { status: number; message: string };
  /** stream this many pieces, then an `{"error": …}` line (Ollama's mid-stream error) */
  failAfterTokens?: number;
  /** the message of that mid-stream error */
  streamError?: string;
  /** destroy the socket after this many pieces (no error line, no final chunk) */
  dropAfterTokens?: number;
  /** wait this long before each piece (slow model) */
  tokenDelayMs?: number;
  /** wait this long before the response starts at all (model loading) */
  startDelayMs?: number;
}

export interface FakeModel {
  name: string;
  family: string;
  parameterSize: string;
  quantization: string;
  size: number;
  digest: string;
  embeddingDim: number;
  contextLength: number;
  modifiedAt: string;
  capabilities: string[];
}

export function fakeModel(spec: string | (Partial<FakeModel> & { name: string })): FakeModel {
  const s = typeof spec === "string" ? { name: spec } : spec;
  const name = s.name.includes(":") ? s.name : `${s.name}:latest`;
  return {
    family: "llama",
    parameterSize: "1.2B",
    quantization: "Q4_K_M",
    size: 1_321_098_329,
    digest: hex(hash(name), 64),
    embeddingDim: 32,
    contextLength: 4096,
    modifiedAt: "2025-01-01T00:00:00Z",
    capabilities: ["completion", "tools", "embedding"],
    ...s,
    name,
  };
}

/** Ollama's model names: "llama3.2" means "llama3.2:latest". */
export function canonicalName(name: string): string {
  return name.includes(":") ? name : `${name}:latest`;
}

const SENTENCES = [
  "Once upon a time, there was a little robot named Bolt.",
  "Bolt liked to count the stars in the sky.",
  "One day, Bolt found a shiny key in the garden.",
  "The key opened a tiny door under the old tree.",
  "Behind the door was a room full of books.",
  "Bolt read every book and learned many things.",
  "Then Bolt went home and told the story to a friend.",
];

/** Deterministic text for a prompt: three sentences of a story, starting where the prompt hashes. */
export function defaultText(prompt: string): string {
  const start = hash(prompt) % SENTENCES.length;
  return [0, 1, 2].map((i) => SENTENCES[(start + i) % SENTENCES.length]).join(" ");
}

/** Streaming pieces: words with their leading whitespace, so the pieces join to the text. */
export function splitTokens(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? [];
}

/** A unit-length vector from the text (Ollama's /api/embed normalizes its vectors too). */
export function embeddingFor(text: string, dim: number): number[] {
  let state = hash(text) || 1;
  const v: number[] = [];
  for (let i = 0; i < dim; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0; // LCG: deterministic, good enough to differ
    v.push(state / 2 ** 31 - 1);
  }
  return normalize(v);
}

export function normalize(v: number[]): number[] {
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  return v.map((x) => x / norm);
}

/** The smallest value a JSON schema accepts, as Ollama's grammar-constrained output would be. */
export function sampleFromSchema(schema: unknown, depth = 0): unknown {
  if (!schema || typeof schema !== "object" || depth > 8) return null;
  const s = schema as Record<string, unknown>;
  if (Array.isArray(s.enum)) return s.enum[0];
  if ("const" in s) return s.const;
  for (const key of ["anyOf", "oneOf", "allOf"]) {
    if (Array.isArray(s[key])) return sampleFromSchema((s[key] as unknown[])[0], depth + 1);
  }
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case "object": {
      const props = (s.properties ?? {}) as Record<string, unknown>;
      const required = (s.required ?? Object.keys(props)) as string[];
      return Object.fromEntries(required.map((k) => [k, sampleFromSchema(props[k], depth + 1)]));
    }
    case "array": {
      const min = typeof s.minItems === "number" ? s.minItems : 1;
      return Array.from({ length: min }, () => sampleFromSchema(s.items, depth + 1));
    }
    case "string": {
      const min = typeof s.minLength === "number" ? s.minLength : 1;
      return "ok".padEnd(min, "k");
    }
    case "integer":
    case "number":
      return typeof s.minimum === "number" ? s.minimum : 1;
    case "boolean":
      return true;
    case "null":
      return null;
    default:
      return s.properties ? sampleFromSchema({ ...s, type: "object" }, depth) : null;
  }
}

/** FNV-1a, 32 bits. */
export function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function hex(seed: number, length: number): string {
  let out = "";
  let state = seed || 1;
  while (out.length < length) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out += state.toString(16).padStart(8, "0");
  }
  return out.slice(0, length);
}
