/**
 * Batches writes from concurrent callers into one write call. Each caller's promise
 * settles when the batch holding its item is committed (or fails), so nobody is told
 * "done" before the data is durable.
 */
export class GroupCommit<T> {
  private pending: Array<{ item: T; resolve: () => void; reject: (e: unknown) => void }> = [];
  private running: Promise<void> | null = null;

  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly maxBatch = 500,
  ) {}

  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.running) this.running = this.loop();
    });
  }

  private async loop(): Promise<void> {
    // Yield once so callers from the same event-loop turn land in the first batch.
    await new Promise((r) => setImmediate(r));
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.maxBatch);
      try {
        await this.write(batch.map((p) => p.item));
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.running = null;
  }

  async drain(): Promise<void> {
    while (this.running) await this.running;
  }
}
