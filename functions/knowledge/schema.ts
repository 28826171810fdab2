import { z } from "zod";

/** Collection names: short, URL-safe (they appear in query strings and CLI arguments). */
export const collectionName = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9._-]{0,63}$/,
    "must be 1-64 characters of lower-case letters, digits, '.', '_' or '-'",
  );

/** Metadata: a flat-ish JSON object; search filters match its top-level scalar fields. */
export const metadata = z.record(z.string().max(128), z.unknown());

/** Filter = equality on top-level metadata fields, all of which must match. */
export const filterSchema = z
  .record(
    z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, "filter keys: letters, digits, '_', '.', ':' or '-'"),
    z.union([z.string(), z.number(), z.boolean(), z.null()]),
  )
  .describe('metadata equality: {"product": "pump-x"} matches documents whose metadata.product is "pump-x"');

export const searchModes = ["hybrid", "vector", "keyword"] as const;
export type SearchMode = (typeof searchModes)[number];

const createCollection = z.strictObject({
  action: z.literal("createCollection"),
  name: collectionName,
  description: z.string().max(1_000).optional(),
  embeddingModel: z.string().min(1).max(200).default("nomic-embed-text"),
  dimension: z.number().int().min(1).max(8_192).optional().describe("probed from the model when omitted"),
  chunkTokens: z.number().int().min(16).max(8_192).default(256),
  overlapTokens: z.number().int().min(0).max(2_048).default(32),
  distributed: z.boolean().default(false).describe("replicate documents and chunks to edge nodes (server)"),
});

const ingest = z.strictObject({
  action: z.literal("ingest"),
  collection: collectionName,
  key: z
    .string()
    .min(1)
    .max(1_000)
    .optional()
    .describe(
      "stable document name (path, URL); re-ingesting it replaces the document. Default: the content hash",
    ),
  title: z.string().max(1_000).optional(),
  content: z.string().min(1),
  format: z.enum(["text", "markdown", "html"]).default("text"),
  metadata: metadata.default({}),
});

const search = z.strictObject({
  action: z.literal("search"),
  collection: collectionName,
  query: z.string().min(1).max(10_000),
  mode: z.enum(searchModes).default("hybrid"),
  k: z.number().int().min(1).max(100).default(10),
  filter: filterSchema.optional(),
  embeddingModel: z.string().max(200).optional().describe("must match the collection's model if given"),
});

const ask = z.strictObject({
  action: z.literal("ask"),
  collection: collectionName,
  question: z.string().min(1).max(10_000),
  k: z.number().int().min(1).max(20).default(5),
  filter: filterSchema.optional(),
  minSimilarity: z
    .number()
    .min(-1)
    .max(1)
    .default(0.3)
    .describe(
      'sources below this cosine similarity are ignored; with none left the answer is "I don\'t know"',
    ),
  model: z.string().max(200).optional().describe("chat model; default the node's"),
  embeddingModel: z.string().max(200).optional(),
});

export const knowledgeInput = z.discriminatedUnion("action", [
  createCollection,
  z.strictObject({ action: z.literal("listCollections") }),
  z.strictObject({ action: z.literal("deleteCollection"), collection: collectionName }),
  ingest,
  z.strictObject({
    action: z.literal("deleteDocument"),
    collection: collectionName,
    key: z.string().min(1).max(1_000),
  }),
  z.strictObject({ action: z.literal("listDocuments"), collection: collectionName }),
  search,
  ask,
  z.strictObject({
    action: z.literal("reindex"),
    collection: collectionName,
    embeddingModel: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .describe("switch to this model; default: the collection's"),
  }),
]);

export type KnowledgeInput = z.output<typeof knowledgeInput>;
export type CreateCollectionInput = z.output<typeof createCollection>;
export type IngestInput = z.output<typeof ingest>;
export type SearchInput = z.output<typeof search>;
export type AskInput = z.output<typeof ask>;
export type Filter = z.output<typeof filterSchema>;

export const hitSchema = z.object({
  chunkId: z.string(),
  documentId: z.string(),
  documentKey: z.string(),
  title: z.string().nullable(),
  headingPath: z.array(z.string()),
  start: z.number().int(),
  end: z.number().int(),
  text: z.string(),
  /** HTML-escaped text around the best match, matches wrapped in <mark> */
  snippet: z.string(),
  /** hybrid: reciprocal-rank-fusion score; vector: cosine similarity; keyword: -bm25 */
  score: z.number(),
  /** cosine similarity to the query (null in keyword mode) */
  similarity: z.number().nullable(),
  metadata: z.record(z.string(), z.unknown()),
});
export type SearchHit = z.output<typeof hitSchema>;

export const citationSchema = hitSchema.extend({ n: z.number().int() });

/** Outputs vary by action; every one carries `action`. */
export const knowledgeOutput = z.looseObject({ action: z.string() });
