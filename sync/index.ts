/** Offline-first replication: see DESIGN.md §2 "Sync" and README "Sync". */
export { type ApplyInput, type ApplyResult, applyRemote } from "./apply.ts";
export { syncMigrationSql, syncStatements } from "./capture.ts";
export { collectGarbage, DEFAULT_GC_HORIZON_MS, type GcResult, startGarbageCollection } from "./changelog.ts";
export {
  createSyncClient,
  type SyncClient,
  type SyncClientOptions,
  type SyncStatus,
} from "./client.ts";
export { ClockSkewError, HybridClock, MAX_DRIFT_MS } from "./clock.ts";
export { createSyncHub, type SyncHub } from "./hub.ts";
export { type InstallOptions, installSync, type SyncContext, syncMigration } from "./install.ts";
export { EMPTY_STATE, isAlive, type MergeMode, merge, type Register, type RowState } from "./merge.ts";
export type {
  NodeSummary,
  PullResponse,
  PushRequest,
  PushResponse,
  SnapshotPage,
  WireChange,
} from "./protocol.ts";
export type { SyncRound } from "./round.ts";
export { syncClientRoutes, syncHubRoutes } from "./routes.ts";
export { type Direction, type ResolvedTable, resolveTable, type SyncedTableSpec } from "./spec.ts";
export { SYNCED_TABLES } from "./tables.ts";
export { type SyncFetch, SyncTransportError } from "./transport.ts";
