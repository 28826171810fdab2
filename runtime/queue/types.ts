import type { Principal } from "../auth/principal.ts";

/** Triggers that can start an invocation. */
export type Trigger = "http" | "queue" | "workflow" | "function" | "cli" | "mqtt" | "cron";

/**
 * What a queued job carries: the invocation request, never a closure, so any worker
 * process on any machine can run it.
 */
export interface JobPayload {
  invocationId: string;
  function: string;
  input: unknown;
  principal: Principal;
  trigger: Trigger;
  idempotencyKey?: string;
  /** "server": an edge forwards it to its server when the job runs */
  placement?: "server";
}

export interface EnqueueOptions {
  /** job id; the invocation id, so cancel/redrive can address the job */
  id: string;
  /** total attempts including the first */
  maxAttempts: number;
  /** base of the exponential backoff between attempts (jittered) */
  backoffMs?: number;
  /** run no earlier than this many ms from now */
  delayMs?: number;
}

export interface ActiveJob {
  id: string;
  payload: JobPayload;
  /** 1-based attempt number of this run */
  attempt: number;
  maxAttempts: number;
  /** aborted when the worker shuts down hard or loses the job's lease */
  signal: AbortSignal;
}

/** Throwing means "this attempt failed": the queue retries with backoff, then dead-letters. */
export type JobHandler = (job: ActiveJob) => Promise<void>;

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  dead: number;
}

export interface DeadJob {
  id: string;
  payload: JobPayload;
  attempts: number;
  lastError: string | null;
}

export interface WorkerOptions {
  concurrency?: number;
}

export interface QueueWorker {
  /** stop taking jobs; wait for running ones up to `graceMs`, then release them for others */
  close(graceMs?: number): Promise<void>;
}

/** One interface, two backends (local = libSQL, bullmq = Redis); tests/queue-conformance runs on both. */
export interface Queue {
  readonly kind: "local" | "bullmq";
  enqueue(payload: JobPayload, opts: EnqueueOptions): Promise<void>;
  /** removes a job that has not started; false when it is running, finished or unknown */
  cancel(id: string): Promise<boolean>;
  /** puts a dead job back in line with a fresh attempt count; false when it is not dead */
  redrive(id: string): Promise<boolean>;
  listDead(limit?: number): Promise<DeadJob[]>;
  counts(): Promise<QueueCounts>;
  process(handler: JobHandler, opts?: WorkerOptions): QueueWorker;
  /** throws when the backend cannot be reached (readiness) */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Exponential backoff with full jitter between 50% and 100% of the step, capped at 5 minutes. */
export function backoffDelay(baseMs: number, attempt: number, random: () => number = Math.random): number {
  const step = Math.min(baseMs * 2 ** Math.max(0, attempt - 1), 300_000);
  return Math.round(step * (0.5 + random() * 0.5));
}
