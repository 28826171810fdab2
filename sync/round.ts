import type { Transaction } from "@libsql/client";
import type { Logger } from "../runtime/log.ts";
import { applyRemote } from "./apply.ts";
import type { ChangesJson } from "./changelog.ts";
import type { SyncContext } from "./install.ts";
import { writeStatement } from "./lane.ts";
import { ackOutbox, countOutbox, readOutbox, UPSTREAM, upstream } from "./outbox.ts";
import { rebootstrap } from "./snapshot.ts";
import { type SyncTransport, SyncTransportError } from "./transport.ts";

/** What one round moved. */
export interface SyncRound {
  pushed: number;
  pulled: number;
  /** pushed changes the server already had (a re-sent batch) */
  skipped: number;
  quarantined: number;
  rebootstrapped: boolean;
  durationMs: number;
}

/** A round that has moved nothing yet. */
export const emptyRound = (): SyncRound => ({
  pushed: 0,
  pulled: 0,
  skipped: 0,
  quarantined: 0,
  rebootstrapped: false,
  durationMs: 0,
});

/** What a round works with; `batchSize` and `head` carry over from round to round. */
export interface RoundDeps {
  ctx: SyncContext;
  transport: SyncTransport;
  log?: Logger;
  beforeCommit?: () => void | Promise<void>;
  pullLimit: number;
  maxBatchBytes: number;
  batchSize: number;
  /** the server's change-log head, as last reported */
  head: number | null;
}

/**
 * Push: the outbox in seq order, one batch at a time; each acknowledgement is recorded
 * (and covered rows dropped) before the next batch is sent, so a crash anywhere re-sends
 * at most one batch, which the server recognises and skips. The next batch is read while
 * the server applies the last one (over a network that is where the edge's own work hides).
 */
export async function pushOutbox(deps: RoundDeps, round: SyncRound): Promise<void> {
  const { ctx, transport } = deps;
  let total = await countOutbox(ctx.client);
  let claimAfter: number | undefined; // set when the server lost acknowledged changes (PUSH_GAP)
  let next: { after: number; page: ChangesJson } | undefined;
  const own = { site: ctx.siteId, sv: ctx.schemaVersion }; // the body's site and schemaVersion
  for (;;) {
    const { ackedSeq } = await upstream(ctx.client);
    const page =
      next?.after === ackedSeq
        ? next.page
        : await readOutbox(ctx.client, own, ackedSeq, deps.batchSize, deps.maxBatchBytes);
    next = undefined;
    if (page.count === 0) return;
    total = Math.max(total, page.count);
    // The outbox JSON SQLite built goes into the body as is: no decode/encode per change.
    const body =
      `{"site":${JSON.stringify(ctx.siteId)},"schemaVersion":${ctx.schemaVersion},"after":${claimAfter ?? ackedSeq},` +
      `"pending":${total - page.count},"changes":${page.json}}`;
    const sent = transport.push(body);
    sent.catch(() => {}); // awaited below; this only keeps a rejection from going unhandled meanwhile
    if (page.more) {
      // While the server applies this batch, read the next one from where this one ends, which
      // is where its acknowledgement puts us when all goes well (used only if it does).
      await new Promise((resolve) => setImmediate(resolve)); // let the request go out first
      try {
        next = {
          after: page.lastSeq,
          page: await readOutbox(ctx.client, own, page.lastSeq, deps.batchSize, deps.maxBatchBytes),
        };
      } catch {
        next = undefined; // best effort: the answer to this push comes first; read again after it
      }
    }
    try {
      const res = await sent;
      await ackOutbox(ctx.client, res.acked, res.serverSite);
      round.pushed += page.count - res.skipped;
      round.skipped += res.skipped;
      round.quarantined += res.quarantined;
      total -= page.count;
      claimAfter = undefined;
      deps.head = res.head;
    } catch (err) {
      next = undefined;
      if (
        err instanceof SyncTransportError &&
        err.code === "PUSH_GAP" &&
        err.acked !== undefined &&
        claimAfter === undefined
      ) {
        deps.log?.error("sync: the server lost changes it had acknowledged; continuing from its position", {
          acked: err.acked,
          ours: ackedSeq,
        });
        claimAfter = err.acked;
        continue;
      }
      if (err instanceof SyncTransportError && err.status === 413 && deps.batchSize > 1) {
        deps.batchSize = Math.ceil(deps.batchSize / 2); // a batch too large for the server's body limit
        continue;
      }
      throw err;
    }
  }
}

/**
 * Pull: pages of the server's change log from our cursor, each applied in one transaction
 * together with its new cursor. A "re-bootstrap" answer switches to the snapshot.
 */
export async function pullChanges(deps: RoundDeps, round: SyncRound): Promise<void> {
  const { ctx, transport } = deps;
  for (let rebootstraps = 0; ; ) {
    const before = await upstream(ctx.client);
    const page = await transport.pull(before.pullCursor, deps.pullLimit);
    deps.head = page.head;
    if (before.serverSite !== null && page.serverSite !== before.serverSite) {
      // A different server (or one reset from scratch): our cursor means nothing there.
      deps.log?.warn("sync: the server's identity changed; starting over from its beginning", {
        was: before.serverSite,
        now: page.serverSite,
      });
      await writeStatement(ctx.client, {
        sql: "UPDATE sync_peers SET pull_cursor = 0, peer_site = ? WHERE site = ?",
        args: [page.serverSite, UPSTREAM],
      });
      continue;
    }
    if (page.rebootstrap) {
      if (rebootstraps++ >= 2)
        throw new Error(`sync: the server keeps asking for a re-bootstrap: ${page.reason}`);
      deps.log?.warn("sync: re-bootstrapping from a snapshot", { reason: page.reason });
      await rebootstrap(
        ctx,
        (after) => transport.snapshot(after, deps.pullLimit),
        (tx, cursor, site) => setCursor(tx, cursor, site),
      );
      round.rebootstrapped = true;
      continue;
    }
    if (page.changes.length > 0 || page.next !== before.pullCursor) {
      const applied = await applyRemote(ctx, {
        from: "the sync server",
        changes: page.changes,
        beforeCommit: deps.beforeCommit,
        record: (tx) => setCursor(tx, page.next, page.serverSite, before.pullCursor),
      });
      round.pulled += page.changes.length;
      round.quarantined += applied.held + applied.rejected; // set aside here, on the pull side
    }
    if (!page.more) return;
  }
}

async function setCursor(
  tx: Transaction,
  cursor: number,
  serverSite: string,
  expected?: number,
): Promise<void> {
  const rs = await tx.execute({
    sql: `UPDATE sync_peers SET pull_cursor = ?, last_pull_at = ?, peer_site = ? WHERE site = ?${expected === undefined ? "" : " AND pull_cursor = ?"}`,
    args: [cursor, Date.now(), serverSite, UPSTREAM, ...(expected === undefined ? [] : [expected])],
  });
  if (rs.rowsAffected !== 1) throw new Error("sync: the pull cursor moved during the round");
}
