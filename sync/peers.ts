import type { Client, Transaction } from "@libsql/client";
import { AppError } from "../runtime/errors.ts";
import type { Exec } from "./clock.ts";
import { writeStatement } from "./lane.ts";
import type { NodeSummary } from "./protocol.ts";

/*
 * What the server knows about each edge (sync_peers): recorded on every request, listed
 * by GET /v1/nodes.
 */

const LAG_COUNT_CAP = 1_000_000; // log entries looked at: counting further tells an operator nothing new

const iso = (ms: unknown) => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());

/**
 * Every edge the server has heard from. `lag.changes`: changes in the log (made elsewhere)
 * the edge has not pulled yet; `lag.ms`: time since its last pull; `pending`: outbox rows
 * it reported still waiting at its last push.
 */
export async function listNodes(exec: Exec): Promise<NodeSummary[]> {
  const peers = await exec.execute(
    "SELECT p.*, (SELECT COUNT(*) FROM sync_quarantine q WHERE q.site = p.site) AS quarantined FROM sync_peers p ORDER BY p.site",
  );
  const now = Date.now();
  const out: NodeSummary[] = [];
  for (const p of peers.rows) {
    const lag = await exec.execute({
      // A logged batch counts its changes (sync_log_batches.n); a marker counts none.
      sql:
        "SELECT coalesce(SUM(coalesce(b.n, 1)), 0) AS n FROM (SELECT seq FROM sync_changes " +
        "WHERE seq > ? AND site != ? AND op != 'marker' LIMIT ?) c LEFT JOIN sync_log_batches b ON b.seq = c.seq",
      args: [Number(p.pull_cursor), String(p.site), LAG_COUNT_CAP],
    });
    out.push({
      site: String(p.site),
      lastSeenAt: iso(p.last_seen_at),
      lastPushAt: iso(p.last_push_at),
      lastPullAt: iso(p.last_pull_at),
      pending: Number(p.pending),
      ackedSeq: Number(p.acked_seq),
      pullCursor: Number(p.pull_cursor),
      lag: {
        changes: Number(lag.rows[0]!.n),
        ms: p.last_pull_at === null ? null : now - Number(p.last_pull_at),
      },
      schemaVersion: p.schema_version === null ? null : Number(p.schema_version),
      skewRejections: Number(p.skew_rejections),
      quarantined: Number(p.quarantined),
      lastError: p.last_error === null ? null : String(p.last_error),
    });
  }
  return out;
}

/**
 * A site belongs to the node key that first spoke for it: another valid node key cannot push
 * (or pull) as that site — it could otherwise forge a gateway's readings or audit entries.
 * When the bound key is revoked, expired or deleted (a replaced gateway key), the next key
 * to speak for the site takes it over.
 */
async function checkBinding(client: Client, site: string, keyId: string): Promise<void> {
  const rs = await client.execute({
    sql:
      "SELECT p.key_id, k.name, k.revoked_at, k.expires_at FROM sync_peers p LEFT JOIN api_keys k ON k.id = p.key_id " +
      "WHERE p.site = ?",
    args: [site],
  });
  const row = rs.rows[0];
  if (!row || row.key_id === null || row.key_id === keyId) return;
  const live =
    row.name !== null &&
    row.revoked_at === null &&
    (row.expires_at === null || Number(row.expires_at) > Date.now());
  if (!live) return;
  throw new AppError(
    403,
    "SITE_BOUND_TO_OTHER_KEY",
    `Node ${site} syncs with key "${String(row.name)}" (${String(row.key_id)}); another key cannot act for it. ` +
      "If this gateway got a new key, revoke the old one on the server (sutazai keys revoke) and sync again.",
  );
}

/** Records that an edge was seen (and what it told us); returns its acknowledged outbox seq. */
export async function touchPeer(
  client: Client,
  site: string,
  fields: { keyId?: string; schemaVersion?: number; pullCursor?: number },
): Promise<{ ackedSeq: number }> {
  if (fields.keyId !== undefined) await checkBinding(client, site, fields.keyId);
  const now = Date.now();
  const rs = await writeStatement(client, {
    sql:
      "INSERT INTO sync_peers (site, key_id, schema_version, pull_cursor, last_seen_at, last_pull_at) VALUES (?, ?, ?, ?, ?, ?) " +
      "ON CONFLICT (site) DO UPDATE SET key_id = coalesce(excluded.key_id, key_id), " +
      "schema_version = coalesce(excluded.schema_version, schema_version), last_seen_at = excluded.last_seen_at, " +
      "pull_cursor = CASE WHEN ? IS NULL THEN pull_cursor ELSE excluded.pull_cursor END, " +
      "last_pull_at = CASE WHEN ? IS NULL THEN last_pull_at ELSE excluded.last_pull_at END " +
      "RETURNING acked_seq",
    args: [
      site,
      fields.keyId ?? null,
      fields.schemaVersion ?? null,
      fields.pullCursor ?? 0,
      now,
      fields.pullCursor === undefined ? null : now,
      fields.pullCursor ?? null,
      fields.pullCursor ?? null,
    ],
  });
  return { ackedSeq: Number(rs.rows[0]!.acked_seq) };
}

/**
 * Before a push: the binding check and the edge's acknowledged seq, read without writing.
 * What the push tells us is recorded by recordPush, inside the batch's own transaction: one
 * write transaction per batch instead of two.
 */
export async function peerForPush(
  client: Client,
  site: string,
  keyId?: string,
): Promise<{ ackedSeq: number }> {
  if (keyId !== undefined) await checkBinding(client, site, keyId);
  const rs = await client.execute({ sql: "SELECT acked_seq FROM sync_peers WHERE site = ?", args: [site] });
  return { ackedSeq: rs.rows[0] ? Number(rs.rows[0].acked_seq) : 0 };
}

/**
 * Records an applied push in its transaction: the new acknowledged seq, and that the edge was
 * seen. Guarded by the acknowledged seq the push started from: false if another push of the
 * same edge moved it meanwhile (the caller must not commit).
 */
export async function recordPush(
  tx: Transaction,
  site: string,
  push: { keyId?: string; schemaVersion: number; from: number; acked: number; pending: number },
): Promise<boolean> {
  const now = Date.now();
  const rs = await tx.execute({
    sql:
      "INSERT INTO sync_peers (site, key_id, schema_version, acked_seq, pending, last_seen_at, last_push_at) " +
      "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (site) DO UPDATE SET key_id = coalesce(excluded.key_id, key_id), " +
      "schema_version = excluded.schema_version, acked_seq = excluded.acked_seq, pending = excluded.pending, " +
      "last_seen_at = excluded.last_seen_at, last_push_at = excluded.last_push_at, last_error = NULL " +
      "WHERE sync_peers.acked_seq = ?",
    args: [site, push.keyId ?? null, push.schemaVersion, push.acked, push.pending, now, now, push.from],
  });
  return rs.rowsAffected === 1;
}
