import type { Client } from "@libsql/client";

type Listener = () => void;

const MAX_TIMED_WAKE_MS = 60_000;

// Keyed by the libSQL client so every local queue object opened on the same database in
// this process hears about the others' enqueues; other processes still find jobs by polling.
const listeners = new WeakMap<Client, Map<string, Set<Listener>>>();

/** Subscribes to "a job may be ready in `queue`"; returns the unsubscribe function. */
export function onJobReady(client: Client, queue: string, listener: Listener): () => void {
  const byQueue = listeners.get(client) ?? new Map<string, Set<Listener>>();
  listeners.set(client, byQueue);
  const set = byQueue.get(queue) ?? new Set<Listener>();
  byQueue.set(queue, set);
  set.add(listener);
  return () => {
    set.delete(listener);
  };
}

/** Wakes this process's workers on `queue`, now or when a delayed job falls due. */
export function announceJobReady(client: Client, queue: string, afterMs = 0): void {
  const fire = () => {
    for (const listener of listeners.get(client)?.get(queue) ?? []) listener();
  };
  if (afterMs <= 0) {
    fire();
    return;
  }
  // Only worth a timer while it beats polling by much; it also keeps clear of setTimeout's
  // 24.8-day ceiling. unref: a pending wake-up must not keep a finished process alive.
  if (afterMs <= MAX_TIMED_WAKE_MS) setTimeout(fire, afterMs).unref();
}

/** How a worker loop sleeps: until rung or `ms` pass. A ring while it is busy is remembered, not lost. */
export interface Doorbell {
  ring(): void;
  wait(ms: number): Promise<void>;
}

export function createDoorbell(): Doorbell {
  let pending = false;
  let waiter: (() => void) | undefined;
  const ring = () => {
    const w = waiter;
    waiter = undefined;
    if (w) w();
    else pending = true;
  };
  return {
    ring,
    wait: (ms) =>
      new Promise<void>((resolve) => {
        if (pending) {
          pending = false;
          resolve();
          return;
        }
        const timer = setTimeout(ring, ms);
        waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      }),
  };
}
