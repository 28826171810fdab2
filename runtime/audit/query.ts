import { and, asc, desc, eq, gt, gte, lt, type SQL } from "drizzle-orm";
import { type AuditRow, auditLog, edgeAuditLog } from "../../schema/audit.ts";
import type { Db } from "../db.ts";
import type { ChainFields } from "./chain.ts";

export interface AuditEntry extends Omit<ChainFields, "details"> {
  details: Record<string, unknown> | null;
  prevHash: string;
  hash: string;
}

export interface AuditQuery {
  /** an edge's node id: read the chain that edge sent this server by sync */
  node?: string;
  action?: string;
  actor?: string;
  /** ts range in unix ms, [since, until) */
  since?: number;
  until?: number;
  /** seq cursors: `after` pages forward (order asc), `before` pages backward (order desc) */
  after?: number;
  before?: number;
  order?: "asc" | "desc";
  /** 1..1000, default 100 */
  limit?: number;
}

/**
 * Filtered, keyset-paged reads in seq order; `next` is the cursor for the following page
 * in the same direction (pass it as `after`, or `before` when paging newest first).
 */
export async function queryAudit(
  db: Db,
  q: AuditQuery = {},
): Promise<{ entries: AuditEntry[]; next: number | null }> {
  const limit = Math.min(Math.max(Math.trunc(q.limit ?? 100), 1), 1000);
  const order = q.order ?? (q.before !== undefined ? "desc" : "asc");
  const where: SQL[] = [];
  // Both tables share the audit columns; an edge's entries carry its node id in `site`.
  const t = q.node === undefined ? auditLog : edgeAuditLog;
  if (q.node !== undefined) where.push(eq(edgeAuditLog.site, q.node));
  if (q.action !== undefined) where.push(eq(t.action, q.action));
  if (q.actor !== undefined) where.push(eq(t.actor, q.actor));
  if (q.since !== undefined) where.push(gte(t.ts, q.since));
  if (q.until !== undefined) where.push(lt(t.ts, q.until));
  if (q.after !== undefined) where.push(gt(t.seq, q.after));
  if (q.before !== undefined) where.push(lt(t.seq, q.before));
  const columns = {
    seq: t.seq,
    id: t.id,
    ts: t.ts,
    actor: t.actor,
    role: t.role,
    action: t.action,
    target: t.target,
    outcome: t.outcome,
    details: t.details,
    prevHash: t.prevHash,
    hash: t.hash,
  };
  const rows = await db
    .select(columns)
    .from(t)
    .where(and(...where))
    .orderBy(order === "asc" ? asc(t.seq) : desc(t.seq))
    .limit(limit + 1);
  const entries = rows.slice(0, limit).map(toEntry);
  return { entries, next: rows.length > limit ? entries[entries.length - 1]!.seq : null };
}

export function toEntry(row: Omit<AuditRow, "seq"> & { seq: number }): AuditEntry {
  return {
    ...row,
    details: row.details === null ? null : (JSON.parse(row.details) as Record<string, unknown>),
  };
}
