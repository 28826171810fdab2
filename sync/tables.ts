import { apiKeys } from "../schema/auth.ts";
import { invocations, state, telemetryReadings } from "../schema/index.ts";
import type { SyncedTableSpec } from "./spec.ts";

/**
 * What syncs, and how. Order matters: remote changes are applied table by table in this
 * order, so parents come before children (telemetry readings reference invocations).
 */
export const SYNCED_TABLES: SyncedTableSpec[] = [
  // Key-value state, written anywhere: per-column last-writer-wins, deletes replicate.
  { table: state, mode: "columns", direction: "both" },
  // An invocation row is written by the node that ran it and updated while it runs, so the
  // latest version of the whole row wins. Edge-side pruning stays local (the server keeps history).
  { table: invocations, mode: "row", direction: "up", captureDeletes: false },
  // Sensor readings: append-only; duplicates are ignored by id.
  { table: telemetryReadings, mode: "insert-only", direction: "up" },
  // API keys reach every edge so it can authenticate offline. last_used_at is per node.
  { table: apiKeys, mode: "columns", direction: "down", localColumns: ["last_used_at"] },
];
