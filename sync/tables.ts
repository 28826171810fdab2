import { auditLog, edgeAuditLog } from "../schema/audit.ts";
import { apiKeys } from "../schema/auth.ts";
import {
  invocations,
  knowledgeChunks,
  knowledgeCollections,
  knowledgeDocuments,
  state,
  telemetryReadings,
} from "../schema/index.ts";
import type { SyncedTableSpec } from "./spec.ts";

/** Rows of a distributed knowledge collection (the collection row itself says so). */
const inDistributedCollection = (row: string) =>
  `EXISTS (SELECT 1 FROM knowledge_collections WHERE id = ${row}.collection_id AND distributed = 1)`;

/**
 * What syncs, and how. Order matters: remote changes are applied table by table in this
 * order, so parents come before children (telemetry readings reference invocations).
 */
export const SYNCED_TABLES: SyncedTableSpec[] = [
  // Key-value state, written anywhere: per-column last-writer-wins, deletes replicate.
  { table: state, mode: "columns", direction: "both" },
  // An invocation row is written by the node that ran it and updated while it runs, so the
  // latest version of the whole row wins. Edge-side pruning stays local (the server keeps history).
  // An edge may only send its own invocations (node_id = its site id): the server re-runs
  // queued rows of its own node id, so a forged one must never get in.
  { table: invocations, mode: "row", direction: "up", captureDeletes: false, ownerColumn: "node_id" },
  // Sensor readings: append-only; duplicates are ignored by id.
  { table: telemetryReadings, mode: "insert-only", direction: "up" },
  // An edge's audit chain, entry by entry, into the server's edge_audit_log under the
  // edge's id (seq is only unique per node), where the server can verify it.
  {
    table: auditLog,
    mode: "insert-only",
    direction: "up",
    receiveInto: { table: edgeAuditLog, siteColumn: "site" },
  },
  // API keys reach every edge so it can authenticate offline. last_used_at is per node.
  { table: apiKeys, mode: "columns", direction: "down", localColumns: ["last_used_at"] },
  // Knowledge collections marked `distributed` on the server, with their documents and
  // chunks (vectors included): edges answer from them offline and index them locally
  // (functions/knowledge/replica.ts). Only the server writes them: whole rows win.
  {
    table: knowledgeCollections,
    mode: "row",
    direction: "down",
    where: (row) => `${row}.distributed = 1`,
  },
  { table: knowledgeDocuments, mode: "row", direction: "down", where: inDistributedCollection },
  { table: knowledgeChunks, mode: "row", direction: "down", where: inDistributedCollection },
];
