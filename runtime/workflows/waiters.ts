/**
 * In-process wake-ups for `wait()`. Steps finishing in this process wake waiters at once;
 * steps finished by another process (a worker sharing the database) are seen by the
 * waiter's next poll, so a wake-up is only ever a shortcut, never required.
 */
export class Waiters {
  private readonly byId = new Map<string, Set<() => void>>();

  notify(id: string): void {
    const set = this.byId.get(id);
    if (!set) return;
    this.byId.delete(id);
    for (const wake of set) wake();
  }

  /** Resolves on notify(id), after `ms`, or when `signal` aborts — whichever comes first. */
  until(id: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const set = this.byId.get(id) ?? new Set<() => void>();
      this.byId.set(id, set);
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        set.delete(done);
        if (set.size === 0 && this.byId.get(id) === set) this.byId.delete(id);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
      set.add(done);
    });
  }

  /** Wakes everyone (shutdown). */
  wakeAll(): void {
    for (const id of [...this.byId.keys()]) this.notify(id);
  }
}
