import type { Client } from "@libsql/client";
import type { Logger } from "../log.ts";
import { deleteRuns, type RunKey } from "./local-sql.ts";

// One DELETE per few ms instead of one per job is most of the difference between
// hundreds and thousands of jobs per second on a small box.
const FLUSH_AFTER_MS = 2;
const FLUSH_AT_COUNT = 256;

export interface CompletionBatcher {
  add(run: RunKey): void;
  /** writes what is pending and waits for every write in flight; later failures are not retried */
  drain(): Promise<void>;
}

/**
 * Deletes completed jobs in batches. Until a batch is written its jobs stay active
 * under this worker's lease, which the worker keeps renewing, so nobody runs them again.
 */
export function createCompletionBatcher(p: {
  client: Client;
  workerId: string;
  queue: string;
  retryMs: number;
  log: Logger;
}): CompletionBatcher {
  let pending: RunKey[] = [];
  let timer: NodeJS.Timeout | undefined;
  let draining = false;
  const inFlight = new Set<Promise<void>>();

  const flush = (): void => {
    clearTimeout(timer);
    timer = undefined;
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    const write: Promise<void> = deleteRuns(p.client, p.workerId, batch)
      .catch((err) => {
        p.log.warn("queue: deleting completed jobs failed", { queue: p.queue, count: batch.length, err });
        if (draining) return; // the leases lapse and the jobs run again: at-least-once
        pending.push(...batch);
        timer ??= setTimeout(flush, p.retryMs);
      })
      .finally(() => inFlight.delete(write));
    inFlight.add(write);
  };

  return {
    add(run) {
      pending.push({ id: run.id, attempt: run.attempt });
      if (pending.length >= FLUSH_AT_COUNT) flush();
      else timer ??= setTimeout(flush, FLUSH_AFTER_MS);
    },
    async drain() {
      draining = true;
      flush();
      await Promise.allSettled([...inFlight]);
    },
  };
}
