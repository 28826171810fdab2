import type { Client, InValue, Row } from "@libsql/client";

/**
 * The statements of the local queue, each a single auto-committed statement: SQLite
 * serialises writers, so every state change is atomic without holding a pooled
 * connection in an interactive transaction. Column names follow schema/jobs.ts.
 *
 * Statements that hand a job from one owner to another are guarded by
 * `worker_id` + `attempt`: a worker that lost its lease (another worker claimed the job
 * after it expired) must not overwrite the new owner's state.
 */

/** A job as a worker claimed it. `attempt` is already the number of this run. */
export interface ClaimedRow {
  id: string;
  payload: string;
  attempt: number;
  maxAttempts: number;
  backoffMs: number;
}

/** Identifies one run of a job: the same id with a later attempt is another owner. */
export interface RunKey {
  id: string;
  attempt: number;
}

// Expired leases come first (they were due before anything queued now) and are found
// through `jobs_lease`; ready jobs through `jobs_ready` in run_at order. Two separate
// limited selects keep both on an index even with a large backlog, where one OR would
// sort every ready row.
const CLAIM = `
UPDATE jobs
SET status = 'active', attempt = attempt + 1, worker_id = :worker, lease_until = :lease, updated_at = :now
WHERE id IN (
  SELECT id FROM (SELECT id FROM jobs WHERE status = 'active' AND lease_until < :now AND queue = :queue LIMIT :limit)
  UNION ALL
  SELECT id FROM (
    SELECT id FROM jobs WHERE queue = :queue AND status = 'queued' AND run_at <= :now ORDER BY run_at LIMIT :limit
  )
  LIMIT :limit
)
RETURNING id, payload, attempt, max_attempts, backoff_ms`;

export async function claimJobs(
  client: Client,
  p: { queue: string; workerId: string; now: number; leaseMs: number; limit: number },
): Promise<ClaimedRow[]> {
  const rs = await client.execute({
    sql: CLAIM,
    args: { worker: p.workerId, lease: p.now + p.leaseMs, now: p.now, queue: p.queue, limit: p.limit },
  });
  return rs.rows.map(toClaimed);
}

function toClaimed(row: Row): ClaimedRow {
  return {
    id: String(row.id),
    payload: String(row.payload),
    attempt: Number(row.attempt),
    maxAttempts: Number(row.max_attempts),
    backoffMs: Number(row.backoff_ms),
  };
}

/** Renews every lease this worker holds; the rows returned are the runs it still owns. */
export async function renewLeases(
  client: Client,
  p: { workerId: string; now: number; leaseMs: number },
): Promise<RunKey[]> {
  const rs = await client.execute({
    sql: "UPDATE jobs SET lease_until = ?, updated_at = ? WHERE worker_id = ? AND status = 'active' RETURNING id, attempt",
    args: [p.now + p.leaseMs, p.now, p.workerId],
  });
  return rs.rows.map((r) => ({ id: String(r.id), attempt: Number(r.attempt) }));
}

// Well under SQLite's bound-parameter limit, and short enough that one statement never
// holds the write lock for long.
const RUNS_PER_STATEMENT = 300;

/** Deletes completed jobs. The invocation row elsewhere keeps the record. */
export async function deleteRuns(client: Client, workerId: string, runs: RunKey[]): Promise<void> {
  for (let i = 0; i < runs.length; i += RUNS_PER_STATEMENT) {
    const chunk = runs.slice(i, i + RUNS_PER_STATEMENT);
    await client.execute({
      sql: `DELETE FROM jobs WHERE worker_id = ? AND (id, attempt) IN (VALUES ${tuples(chunk.length)})`,
      args: [workerId, ...flatten(chunk)],
    });
  }
}

/**
 * Puts interrupted runs back in line for any worker, now. The attempt is handed back:
 * a shutdown is not the job's fault and must not push it towards the dead-letter.
 */
export async function releaseRuns(
  client: Client,
  workerId: string,
  runs: RunKey[],
  now: number,
): Promise<void> {
  for (let i = 0; i < runs.length; i += RUNS_PER_STATEMENT) {
    const chunk = runs.slice(i, i + RUNS_PER_STATEMENT);
    await client.execute({
      sql: `UPDATE jobs SET status = 'queued', attempt = attempt - 1, run_at = ?, lease_until = NULL, worker_id = NULL,
              updated_at = ?
            WHERE worker_id = ? AND status = 'active' AND (id, attempt) IN (VALUES ${tuples(chunk.length)})`,
      args: [now, now, workerId, ...flatten(chunk)],
    });
  }
}

/** Records a failed attempt: back in line at `runAt`, or dead when no attempt is left. */
export async function failRun(
  client: Client,
  p: RunKey & { workerId: string; dead: boolean; runAt: number; error: string; now: number },
): Promise<void> {
  await client.execute({
    sql: `UPDATE jobs SET status = ?, run_at = ?, lease_until = NULL, worker_id = NULL, last_error = ?, updated_at = ?
          WHERE id = ? AND worker_id = ? AND attempt = ?`,
    args: [p.dead ? "dead" : "queued", p.runAt, p.error, p.now, p.id, p.workerId, p.attempt],
  });
}

/**
 * A claim of an expired lease whose holder already used the last attempt: the job keeps
 * killing (or stalling) its workers, so it goes to the dead-letter instead of running again.
 */
export async function buryLostRun(
  client: Client,
  p: RunKey & { workerId: string; now: number },
): Promise<void> {
  await client.execute({
    sql: `UPDATE jobs SET status = 'dead', attempt = attempt - 1, lease_until = NULL, worker_id = NULL,
            last_error = 'lease expired on the final attempt: the worker running it stopped (crash or kill) or stalled',
            updated_at = ?
          WHERE id = ? AND worker_id = ? AND attempt = ?`,
    args: [p.now, p.id, p.workerId, p.attempt],
  });
}

export async function insertJob(
  client: Client,
  p: {
    id: string;
    queue: string;
    payload: string;
    maxAttempts: number;
    backoffMs: number;
    runAt: number;
    now: number;
  },
): Promise<void> {
  // An existing id means the job was already enqueued (a retried request); like BullMQ,
  // the first one wins.
  await client.execute({
    sql: `INSERT INTO jobs (id, queue, payload, status, attempt, max_attempts, backoff_ms, run_at, created_at, updated_at)
          VALUES (?, ?, ?, 'queued', 0, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    args: [p.id, p.queue, p.payload, p.maxAttempts, p.backoffMs, p.runAt, p.now, p.now],
  });
}

function tuples(n: number): string {
  return Array.from({ length: n }, () => "(?, ?)").join(", ");
}

function flatten(runs: RunKey[]): InValue[] {
  return runs.flatMap((r) => [r.id, r.attempt]);
}
