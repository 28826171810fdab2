import type { Transaction } from "@libsql/client";
import { AppError } from "../runtime/errors.ts";
import { applyRemote } from "./apply.ts";
import { headSeq, readLogJson } from "./changelog.ts";
import { ClockSkewError } from "./clock.ts";
import { foldNow, readFolded } from "./fold.ts";
import type { SyncContext } from "./install.ts";
import { writeStatement } from "./lane.ts";
import { listNodes, peerForPush, recordPush, touchPeer } from "./peers.ts";
import {
  ACKED_HEADER,
  asWireChange,
  type NodeSummary,
  type PullResponse,
  type PushRequest,
  type PushResponse,
  type SnapshotPage,
  type WireChange,
} from "./protocol.ts";
import { readSnapshotPage } from "./snapshot.ts";

export interface PullMeta {
  schemaVersion?: number;
  keyId?: string;
  /** pullJson: changes in the compact form (what edges ask for); objects otherwise */
  compact?: boolean;
}

export interface SyncHub {
  /** Applies one batch of an edge's outbox; answers with the edge's acknowledged seq. */
  pushBatch(nodeId: string, batch: PushRequest, meta?: { keyId?: string }): Promise<PushResponse>;
  /** Changes after `cursor` the edge did not make itself, or "re-bootstrap" when the cursor fell behind GC. */
  pull(nodeId: string, cursor: number, limit: number, meta?: PullMeta): Promise<PullResponse>;
  /** pull() as the JSON text of the response: the route sends it on without re-encoding. */
  pullJson(nodeId: string, cursor: number, limit: number, meta?: PullMeta): Promise<string>;
  /** One page of the full replicated state, for re-bootstrapping an edge. */
  snapshot(nodeId: string, after: string | null, limit: number): Promise<SnapshotPage>;
  /** Every edge: last seen, pending, lag, schema version (GET /v1/nodes). */
  listNodes(): Promise<NodeSummary[]>;
}

/** A pull page stops growing at about this much JSON (a page is one response body). */
const PULL_MAX_BYTES = 4 * 1024 * 1024;

export interface HubOptions {
  /** test hook, see ApplyInput.beforeCommit */
  beforeCommit?: () => void | Promise<void>;
}

/** The server side of sync. Stateless: every fact lives in the database. */
export function createSyncHub(ctx: SyncContext, opts: HubOptions = {}): SyncHub {
  if (ctx.role !== "server") throw new Error("createSyncHub needs a context installed with role: 'server'");
  type Page =
    | Extract<PullResponse, { rebootstrap: true }>
    | { changesJson: string; next: number; head: number; more: boolean; serverSite: string };
  async function pullPage(nodeId: string, cursor: number, limit: number, meta: PullMeta = {}): Promise<Page> {
    if (meta.schemaVersion !== undefined) checkSchema(ctx, meta.schemaVersion);
    // The cursor an edge sends is what it has durably applied: the basis for its lag and for GC.
    await touchPeer(ctx.client, nodeId, {
      keyId: meta.keyId,
      schemaVersion: meta.schemaVersion,
      pullCursor: cursor,
    });
    // A keys entry is rendered from the rows and their stamps: read both in one snapshot, with
    // the server's own writes folded into the stamps.
    return readFolded(ctx, async (exec): Promise<Page> => {
      const head = await headSeq(exec);
      const gcSeq = Number(
        (await exec.execute("SELECT gc_seq FROM sync_clock WHERE id = 1")).rows[0]!.gc_seq,
      );
      if (cursor < gcSeq || cursor > head) {
        const reason =
          cursor > head
            ? `cursor ${cursor} is beyond this server's change log (head ${head}): the server was reset or restored`
            : `cursor ${cursor} is behind the tombstone-GC horizon (changes up to ${gcSeq} were collected)`;
        return { rebootstrap: true as const, reason, head, serverSite: ctx.siteId };
      }
      const page = await readLogJson(ctx, exec, {
        after: cursor,
        upTo: head,
        exceptSite: nodeId,
        limit,
        maxBytes: PULL_MAX_BYTES,
      });
      // Rows skipped by the site filter are skipped for good: when the page is not full the
      // edge is level with `head`, not with the last change it was sent.
      const next = page.more ? page.lastSeq : head;
      return { changesJson: page.json, next, head, more: page.more, serverSite: ctx.siteId };
    });
  }

  return {
    async pushBatch(nodeId, batch, meta = {}) {
      checkSite(nodeId, batch.site);
      checkSchema(ctx, batch.schemaVersion);
      const peer = await peerForPush(ctx.client, nodeId, meta.keyId);
      // Recorded with the batch when it applies (recordPush); on every other outcome, here.
      const touch = () =>
        touchPeer(ctx.client, nodeId, { schemaVersion: batch.schemaVersion, keyId: meta.keyId });
      // The batch must continue what we have: if the edge believes we acknowledged more
      // than we did (our database was restored?), applying it would leave a silent gap.
      if (batch.after > peer.ackedSeq) {
        await touch().catch(() => {}); // the gap is the answer the edge acts on
        throw new AppError(
          409,
          "PUSH_GAP",
          `This server has applied ${nodeId}'s changes up to ${peer.ackedSeq}, but the batch starts after ${batch.after}: ` +
            "changes in between are missing (was the server restored from a backup?). Push again from the acknowledged seq.",
          { headers: { [ACKED_HEADER]: String(peer.ackedSeq) } },
        );
      }
      let ordered: WireChange[];
      try {
        ordered = inSeqOrder(nodeId, batch.changes);
      } catch (err) {
        await touch().catch(() => {});
        throw err;
      }
      const fresh = ordered.filter((c) => c.seq > peer.ackedSeq);
      const head = async () => headSeq(ctx.client);
      if (fresh.length === 0) {
        await touch();
        await writeStatement(ctx.client, {
          sql: "UPDATE sync_peers SET pending = ?, last_push_at = ? WHERE site = ?",
          args: [batch.pending, Date.now(), nodeId],
        });
        return {
          acked: peer.ackedSeq,
          applied: 0,
          skipped: batch.changes.length,
          quarantined: 0,
          serverSite: ctx.siteId,
          head: await head(),
        };
      }
      const acked = fresh[fresh.length - 1]!.seq;
      try {
        const result = await applyRemote(ctx, {
          from: nodeId,
          changes: fresh,
          log: true,
          beforeCommit: opts.beforeCommit,
          record: async (tx: Transaction) => {
            // Guarded by the previous value: two concurrent pushes of one edge cannot both apply.
            const recorded = await recordPush(tx, nodeId, {
              keyId: meta.keyId,
              schemaVersion: batch.schemaVersion,
              from: peer.ackedSeq,
              acked,
              pending: batch.pending,
            });
            if (!recorded)
              throw new AppError(
                409,
                "PUSH_CONFLICT",
                "Another push from this node is being applied; retry.",
              );
          },
        });
        return {
          acked,
          applied: result.applied,
          skipped: batch.changes.length - fresh.length,
          quarantined: result.held + result.rejected,
          serverSite: ctx.siteId,
          head: await head(),
        };
      } catch (err) {
        await touch().catch(() => {}); // the push's own error is the one to report
        if (err instanceof ClockSkewError) {
          await writeStatement(ctx.client, {
            sql: "UPDATE sync_peers SET skew_rejections = skew_rejections + 1, last_error = ? WHERE site = ?",
            args: [err.message, nodeId],
          });
        }
        throw err;
      }
    },

    async pull(nodeId, cursor, limit, meta) {
      const page = await pullPage(nodeId, cursor, limit, meta);
      if (!("changesJson" in page)) return page;
      const { changesJson, ...rest } = page;
      return {
        rebootstrap: false,
        changes: changesOf(changesJson),
        ...rest,
      };
    },

    async pullJson(nodeId, cursor, limit, meta) {
      const page = await pullPage(nodeId, cursor, limit, meta);
      if (!("changesJson" in page)) return JSON.stringify(page);
      const { changesJson, ...rest } = page;
      // An edge from before the compact form gets objects (re-encoded: its slow path only).
      const changes = meta?.compact ? changesJson : JSON.stringify(changesOf(changesJson));
      return `{"rebootstrap":false,"changes":${changes},${JSON.stringify(rest).slice(1)}`;
    },

    async snapshot(nodeId, after, limit) {
      await touchPeer(ctx.client, nodeId, {});
      if (!after) await foldNow(ctx); // the snapshot must carry the stamps of the server's own writes
      return readSnapshotPage(ctx, after, limit);
    },

    listNodes: () => listNodes(ctx.client),
  };
}

/** A page's changes (compact, or objects in entries logged before the compact form) as objects. */
const changesOf = (json: string): WireChange[] => (JSON.parse(json) as unknown[]).map((c) => asWireChange(c));

function checkSite(nodeId: string, site: string): void {
  if (nodeId !== site) {
    throw new AppError(
      400,
      "SYNC_SITE_MISMATCH",
      `The batch is from site ${site}, but the request names node ${nodeId}.`,
    );
  }
}

/** Schema versions: the server takes its own and the one before (N−1); newer edges wait for a server upgrade. */
function checkSchema(ctx: SyncContext, version: number): void {
  if (version > ctx.schemaVersion) {
    throw new AppError(
      409,
      "SCHEMA_TOO_NEW",
      `The edge runs schema version ${version}, this server ${ctx.schemaVersion}: upgrade the server first. The edge keeps its changes meanwhile.`,
    );
  }
  if (version < ctx.schemaVersion - 1) {
    throw new AppError(
      409,
      "SCHEMA_TOO_OLD",
      `The edge runs schema version ${version}; this server (${ctx.schemaVersion}) accepts ${ctx.schemaVersion - 1} and newer. Upgrade the edge.`,
    );
  }
}

/**
 * A batch must carry one edge's own changes, each seq once. They are applied in seq order:
 * an edge sends them so (its outbox read relies on SQLite feeding the aggregate in rowid
 * order), and a batch that comes otherwise is sorted here rather than refused, so a change
 * in how SQLite plans that read could never stall an edge's outbox.
 */
function inSeqOrder(nodeId: string, changes: WireChange[]): WireChange[] {
  let sorted = true;
  for (let i = 0; i < changes.length; i++) {
    const c = changes[i]!;
    if (c.site !== nodeId)
      throw new AppError(
        400,
        "SYNC_SITE_MISMATCH",
        `Change ${c.seq} was made by ${c.site}, not by ${nodeId}.`,
      );
    if (i > 0 && c.seq <= changes[i - 1]!.seq) sorted = false;
  }
  const out = sorted ? changes : [...changes].sort((a, b) => a.seq - b.seq);
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.seq === out[i - 1]!.seq)
      throw new AppError(400, "SYNC_ORDER", `Change ${out[i]!.seq} appears twice in the batch.`);
  }
  return out;
}
