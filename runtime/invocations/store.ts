import type { Client, InValue } from "@libsql/client";
import { and, desc, eq, getTableColumns, isNotNull, lt, sql } from "drizzle-orm";
import { type InvocationRow, invocations } from "../../schema/index.ts";
import type { Db } from "../db.ts";
import { GroupCommit } from "./group-commit.ts";

export type InvocationStatus = "queued" | "running" | "succeeded" | "failed" | "dead" | "cancelled";
export const INVOCATION_STATUSES: InvocationStatus[] = [
  "queued",
  "running",
  "succeeded",
  "failed",
  "dead",
  "cancelled",
];
export type NewInvocation = typeof invocations.$inferInsert;

export interface ListFilter {
  function?: string;
  status?: InvocationStatus;
  /** id cursor: rows older than this one (ids are UUIDv7, so they sort by time) */
  before?: string;
  limit?: number;
}

const COLUMNS = Object.entries(getTableColumns(invocations)) as Array<
  [keyof NewInvocation, { name: string }]
>;
const ROWS_PER_INSERT = 500;
const insertSqlCache = new Map<number, string>();
function insertSql(rows: number): string {
  let sql = insertSqlCache.get(rows);
  if (!sql) {
    const tuple = `(${COLUMNS.map(() => "?").join(",")})`;
    sql = `INSERT INTO invocations (${COLUMNS.map(([, c]) => c.name).join(",")}) VALUES ${Array(rows).fill(tuple).join(",")}`;
    insertSqlCache.set(rows, sql);
  }
  return sql;
}
// The column defaults of schema/invocations.ts, which a raw INSERT does not apply for us.
const DEFAULTS: Partial<Record<keyof NewInvocation, () => InValue>> = {
  attempt: () => 0,
  maxAttempts: () => 1,
  createdAt: () => Date.now(),
};
const rowArgs = (row: NewInvocation) =>
  COLUMNS.map(([key]) => (row[key] ?? DEFAULTS[key]?.() ?? null) as InValue);

/** Reads and writes of the `invocations` table. */
export class InvocationStore {
  private readonly inserts: GroupCommit<NewInvocation>;
  private readonly succeeded: GroupCommit<InValue[]>;
  private readonly starts: GroupCommit<InValue[], boolean>;

  constructor(
    private readonly db: Db,
    client: Client,
  ) {
    // Finished sync invocations are written in groups: every request still waits for its
    // row to be committed, but concurrent requests share one INSERT and one fsync.
    // Raw SQL rather than drizzle's builder: building the statement was an eighth of the
    // invoke path's CPU. Columns come from the table definition, so they cannot drift.
    this.succeeded = new GroupCommit(async (updates) => {
      await client.batch(
        updates.map((args) => ({
          sql: "UPDATE invocations SET status = 'succeeded', output = ?, finished_at = ?, duration_ms = ? WHERE id = ?",
          args,
        })),
        "write",
      );
    });
    // Workers start many jobs at once: one transaction for all their `running` marks
    // instead of a commit each (that commit was the largest cost of a queued job).
    this.starts = new GroupCommit(async (starts) => {
      const results = await client.batch(
        starts.map((args) => ({
          sql: "UPDATE invocations SET status = 'running', attempt = ?, started_at = ?, error = NULL WHERE id = ? AND status NOT IN ('succeeded', 'failed', 'cancelled') RETURNING id",
          args,
        })),
        "write",
      );
      return results.map((rs) => rs.rows.length > 0);
    });
    this.inserts = new GroupCommit(async (rows) => {
      for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
        const chunk = rows.slice(i, i + ROWS_PER_INSERT);
        await client.execute({ sql: insertSql(chunk.length), args: chunk.flatMap(rowArgs) });
      }
    });
  }

  /**
   * Inserts a row (a finished sync invocation, a queued one); resolves once it is committed.
   * Concurrent callers share one INSERT and one fsync.
   */
  insert(row: NewInvocation): Promise<void> {
    return this.inserts.add(row);
  }

  /** Marks a queued run succeeded; concurrent workers' updates share one write transaction. */
  recordSucceeded(id: string, output: string, finishedAt: number, durationMs: number): Promise<void> {
    return this.succeeded.add([output, finishedAt, durationMs, id]);
  }

  /**
   * Inserts the row unless (node, function, idempotency key) exists already. Returns the existing
   * row when it does, so the caller can replay the first result instead of running twice.
   */
  async insertIdempotent(row: NewInvocation): Promise<InvocationRow | undefined> {
    const inserted = await this.db
      .insert(invocations)
      .values(row)
      .onConflictDoNothing({ target: [invocations.nodeId, invocations.function, invocations.idempotencyKey] })
      .returning({ id: invocations.id });
    if (inserted.length > 0) return undefined;
    return this.db.query.invocations.findFirst({
      where: and(
        eq(invocations.nodeId, row.nodeId),
        eq(invocations.function, row.function),
        eq(invocations.idempotencyKey, row.idempotencyKey!),
      ),
    });
  }

  /** Creates the row of a running sync invocation, or refreshes its progress. */
  async upsertRunning(row: NewInvocation): Promise<void> {
    await this.db
      .insert(invocations)
      .values(row)
      .onConflictDoUpdate({ target: invocations.id, set: { progress: row.progress } });
  }

  /** queued (or crashed mid-run) → running; false when the invocation already ended or is unknown */
  startRun(id: string, attempt: number, startedAt: number): Promise<boolean> {
    return this.starts.add([attempt, startedAt, id]);
  }

  /** This node's rows queued since before `queuedBefore` (oldest first): candidates for requeueLost. */
  staleQueued(nodeId: string, queuedBefore: number, limit: number): Promise<InvocationRow[]> {
    return this.db
      .select()
      .from(invocations)
      .where(
        and(
          eq(invocations.status, "queued"),
          eq(invocations.nodeId, nodeId),
          lt(invocations.queuedAt, queuedBefore),
          // rows from before the caller was recorded cannot be re-run on anyone's behalf
          isNotNull(invocations.caller),
        ),
      )
      .orderBy(invocations.id)
      .limit(limit);
  }

  async update(id: string, fields: Partial<NewInvocation>): Promise<void> {
    await this.db.update(invocations).set(fields).where(eq(invocations.id, id));
  }

  /** Updates only when the row is in one of the given states; returns whether it did. */
  async transition(id: string, from: InvocationStatus[], fields: Partial<NewInvocation>): Promise<boolean> {
    const res = await this.db
      .update(invocations)
      .set(fields)
      .where(and(eq(invocations.id, id), sql`${invocations.status} in ${from}`));
    return res.rowsAffected > 0;
  }

  get(id: string): Promise<InvocationRow | undefined> {
    return this.db.query.invocations.findFirst({ where: eq(invocations.id, id) });
  }

  list(filter: ListFilter = {}): Promise<InvocationRow[]> {
    const conds = [];
    if (filter.function) conds.push(eq(invocations.function, filter.function));
    if (filter.status) conds.push(eq(invocations.status, filter.status));
    if (filter.before) conds.push(lt(invocations.id, filter.before));
    return this.db
      .select()
      .from(invocations)
      .where(conds.length ? and(...conds) : undefined)
      .orderBy(desc(invocations.id))
      .limit(Math.min(Math.max(filter.limit ?? 50, 1), 500));
  }

  /** Waits for grouped writes still in flight (shutdown). */
  async flush(): Promise<void> {
    await this.starts.drain();
    await this.succeeded.drain();
    return this.inserts.drain();
  }
}
