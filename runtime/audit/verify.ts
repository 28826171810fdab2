import type { Client } from "@libsql/client";
import { chainHash, GENESIS_HASH } from "./chain.ts";

export type BreakReason =
  /** the row's content no longer matches its hash: it was altered */
  | "hash_mismatch"
  /** the row does not link to the row before it: a row before it was deleted, inserted or moved */
  | "prev_hash_mismatch"
  /** the numbering skips: rows were deleted here */
  | "seq_gap"
  /** rows were deleted from the end of the log (seq names the first missing one) */
  | "truncated";

export type VerifyResult =
  | { ok: true; count: number; head: string }
  | { ok: false; seq: number; id: string | null; reason: BreakReason; count: number };

const PAGE = 2000;

/**
 * Walks the chain in seq order and names the first entry that breaks it. Only rows that
 * existed when the walk started are checked, so concurrent appends cannot cause a false
 * alarm. Limitation: anyone able to rewrite the table can rehash the whole chain; keep
 * `head` somewhere else (a log line, a ticket, a peer) to detect that — the server's copy
 * of an edge's chain (`node`) is such a peer.
 */
export async function verifyChain(client: Client, node?: string): Promise<VerifyResult> {
  // An edge's chain as the server received it (edge_audit_log): there the end is the last
  // entry received, since later ones may simply not have arrived yet.
  const source =
    node === undefined
      ? { table: "audit_log", where: "", args: [] as string[] }
      : { table: "edge_audit_log", where: "site = ? AND ", args: [node] };
  const start = await client.execute({
    sql: `SELECT
    (SELECT seq FROM ${source.table} WHERE ${source.where}true ORDER BY seq DESC LIMIT 1) AS last,
    (SELECT seq FROM sqlite_sequence WHERE name = '${source.table}') AS hwm`,
    args: source.args,
  });
  const last = Number(start.rows[0]?.last ?? 0);
  // Without AUTOINCREMENT bookkeeping, fall back to the last row (tail deletions then go unseen).
  const end = Math.max(last, Number(start.rows[0]?.hwm ?? 0));
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1;
  let count = 0;
  for (;;) {
    const page = await client.execute({
      sql: `SELECT seq, id, ts, actor, role, action, target, outcome, details, prev_hash, hash
            FROM ${source.table} WHERE ${source.where}seq >= ? AND seq <= ? ORDER BY seq LIMIT ${PAGE}`,
      args: [...source.args, expectedSeq, end],
    });
    for (const r of page.rows) {
      const seq = Number(r.seq);
      const id = String(r.id);
      const broken = (reason: BreakReason): VerifyResult => ({ ok: false, seq, id, reason, count });
      if (r.prev_hash !== prevHash) return broken("prev_hash_mismatch");
      if (seq !== expectedSeq) return broken("seq_gap");
      const hash = chainHash(prevHash, {
        seq,
        id,
        ts: Number(r.ts),
        actor: String(r.actor),
        role: r.role === null ? null : String(r.role),
        action: String(r.action),
        target: r.target === null ? null : String(r.target),
        outcome: String(r.outcome),
        details: r.details === null ? null : String(r.details),
      });
      if (hash !== r.hash) return broken("hash_mismatch");
      prevHash = hash;
      expectedSeq = seq + 1;
      count++;
    }
    if (page.rows.length < PAGE) break;
  }
  if (expectedSeq <= end) return { ok: false, seq: expectedSeq, id: null, reason: "truncated", count };
  return { ok: true, count, head: prevHash };
}
