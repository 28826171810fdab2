import { z } from "@hono/zod-openapi";

/*
 * The wire protocol between an edge and the server. JSON over HTTP:
 *   POST /v1/sync/push                  PushRequest -> PushResponse
 *   GET  /v1/sync/pull?cursor=&limit=   -> PullResponse (changes, or "re-bootstrap")
 *   GET  /v1/sync/snapshot?after=&limit= -> SnapshotPage (full row states, for re-bootstrap)
 * The edge names itself in the `x-sutazai-node` header (its site id) and its schema version
 * in `x-sutazai-schema`. HLCs travel as 16 hex digits (they do not fit a JSON number).
 * Changes travel in the compact form (WireChangeTupleSchema); a server also takes objects
 * (edges before the compact form) and sends them to an edge that does not ask for tuples.
 */
export const NODE_HEADER = "x-sutazai-node";
export const SCHEMA_HEADER = "x-sutazai-schema";
export const ACKED_HEADER = "x-sutazai-acked";
export const MAX_PUSH_CHANGES = 10_000;
export const MAX_PULL_LIMIT = 10_000;

const Hex16 = z.string().regex(/^[0-9a-f]{16}$/, "an HLC: 16 lower-case hex digits");
const Site = z.string().min(1).max(128);
const Count = z.number().int().nonnegative();
/** Column values are SQLite scalars; JSON cannot carry blobs. */
const Value = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const Pk = z
  .array(z.union([z.string(), z.number().int()]))
  .min(1)
  .max(16);

const Tbl = z.string().min(1).max(128);
const Op = z.enum(["insert", "update", "delete"]);
const Cols = z.record(z.string(), Value).nullable();
/** The fields of a compact change up to its HLC (see WireChangeTupleSchema). */
const TUPLE_HEAD = [Count, Tbl, Pk, Op, Cols, Hex16] as const;

/** One captured change: an outbox row on the way up, a change-log row on the way down. */
export const WireChangeSchema = z
  .object({
    seq: Count.openapi({
      description:
        "in a push, the edge's outbox seq; in a pull page, informational: its log entry's position (the seq its maker gave it, in entries logged by older servers)",
    }),
    tbl: Tbl,
    pk: Pk,
    op: Op,
    cols: Cols.openapi({ description: "written columns; only the changed ones for an update" }),
    hlc: Hex16,
    site: Site.openapi({ description: "the replica that made the change" }),
    sv: Count.openapi({ description: "schema version of that replica" }),
  })
  .openapi("SyncChange");
export type WireChange = z.infer<typeof WireChangeSchema>;

/**
 * The compact form of a change, what edges and the server send: the same fields by position,
 * without their names. A fifth smaller than the object, and cheaper to build, send and parse
 * (with the outbox read that builds it: about 5% of a push). Readers accept either form,
 * change by change: log entries written before the compact form are objects.
 */
export const WireChangeTupleSchema = z.tuple([...TUPLE_HEAD, Site, Count]).openapi("SyncChangeTuple", {
  description: "[seq, tbl, pk, op, cols, hlc, site, sv]: a SyncChange by position",
});
export type WireChangeTuple = z.infer<typeof WireChangeTupleSchema>;
const AnyWireChange = z.union([WireChangeSchema, WireChangeTupleSchema]);

/**
 * In a push, a compact change may leave out its last two fields, site and sv: they are then
 * the batch's `site` and `schemaVersion` (an edge's own changes, captured under its current
 * schema: nearly all of them).
 */
export const WireChangeShortTupleSchema = z.tuple([...TUPLE_HEAD]).openapi("SyncChangeShortTuple", {
  description: "[seq, tbl, pk, op, cols, hlc]: in a push, a change of the batch's site and schema version",
});

const fromTuple = (c: unknown[], site: unknown, sv: unknown): WireChange =>
  ({ seq: c[0], tbl: c[1], pk: c[2], op: c[3], cols: c[4], hlc: c[5], site, sv }) as WireChange;

/** A change in either full form as an object (the fields are checked in validate.ts). */
export const asWireChange = (c: unknown): WireChange =>
  Array.isArray(c) ? fromTuple(c, c[6], c[7]) : (c as WireChange);

/** A pushed change in any form as an object: a short tuple takes the batch's site and sv. */
export const asPushedChange = (c: unknown, batch: { site: string; sv: number }): WireChange =>
  Array.isArray(c) && c.length === 6 ? fromTuple(c, batch.site, batch.sv) : asWireChange(c);

export const PushRequestSchema = z
  .object({
    site: Site,
    schemaVersion: Count,
    after: Count.openapi({ description: "the last outbox seq the edge knows the server acknowledged" }),
    pending: Count.openapi({ description: "outbox rows still waiting after this batch" }),
    changes: z
      .array(z.union([WireChangeSchema, WireChangeTupleSchema, WireChangeShortTupleSchema]))
      .max(MAX_PUSH_CHANGES),
  })
  .openapi("SyncPushRequest");
/** A push batch as checked (validate.ts): every change an object. */
export type PushRequest = Omit<z.infer<typeof PushRequestSchema>, "changes"> & { changes: WireChange[] };

export const PushResponseSchema = z
  .object({
    acked: Count.openapi({
      description: "every outbox seq up to this one is applied; the edge may drop them",
    }),
    applied: Count,
    skipped: Count.openapi({ description: "changes already applied earlier (a re-sent batch)" }),
    quarantined: Count,
    serverSite: Site,
    head: Count,
  })
  .openapi("SyncPushResponse");
export type PushResponse = z.infer<typeof PushResponseSchema>;

const PullChanges = z.object({
  rebootstrap: z.literal(false),
  changes: z.array(AnyWireChange).openapi({
    description: "compact when the pull asks for it (`compact=1`), objects otherwise",
  }),
  next: Count.openapi({ description: "the cursor to store with these changes and to pull from next" }),
  head: Count,
  more: z.boolean(),
  serverSite: Site,
});
const PullRebootstrap = z.object({
  rebootstrap: z.literal(true),
  reason: z.string(),
  head: Count,
  serverSite: Site,
});
export const PullResponseSchema = z
  .discriminatedUnion("rebootstrap", [PullChanges, PullRebootstrap])
  .openapi("SyncPullResponse");
/** A pull page as checked (validate.ts): every change an object. */
export type PullResponse =
  | (Omit<z.infer<typeof PullChanges>, "changes"> & { changes: WireChange[] })
  | z.infer<typeof PullRebootstrap>;

/** A row's full replicated state: every known column as [value, stamp], and the newest delete. */
export const SnapshotRowSchema = z.object({
  tbl: z.string().min(1).max(128),
  pk: Pk,
  cols: z.record(z.string(), z.tuple([Value, z.string().max(200)])),
  del: z.string().max(200).optional(),
});
export type SnapshotRow = z.infer<typeof SnapshotRowSchema>;

export const SnapshotPageSchema = z
  .object({
    rows: z.array(SnapshotRowSchema),
    cursor: Count.openapi({ description: "change-log position to pull from after the last page" }),
    next: z.string().nullable().openapi({ description: "page token for `after`; null on the last page" }),
    serverSite: Site,
  })
  .openapi("SyncSnapshotPage");
export type SnapshotPage = z.infer<typeof SnapshotPageSchema>;

export const NodeSummarySchema = z
  .object({
    site: z.string(),
    lastSeenAt: z.string().nullable(),
    lastPushAt: z.string().nullable(),
    lastPullAt: z.string().nullable(),
    pending: Count.openapi({ description: "outbox rows the edge reported still waiting" }),
    ackedSeq: Count,
    pullCursor: Count,
    lag: z.object({ changes: Count, ms: z.number().nullable() }),
    schemaVersion: z.number().int().nullable(),
    skewRejections: Count,
    quarantined: Count,
    lastError: z.string().nullable(),
  })
  .openapi("SyncNode");
export type NodeSummary = z.infer<typeof NodeSummarySchema>;
