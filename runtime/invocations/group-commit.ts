/**
 * Batches writes from concurrent callers into one write call. Each caller's promise
 * settles when the batch holding its item is committed (or fails), so nobody is told
 * "done" before the data is durable. `write` may answer one result per item (in order),
 * which its caller receives.
 */
export class GroupCommit<T, R = void> {
  private pending: Array<{ item: T; resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  private running: Promise<void> | null = null;

  constructor(
    private readonly write: (items: T[]) => Promise<R[] | undefined>,
    private readonly maxBatch = 500,
  ) {}

  add(item: T): Promise<R> {
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
        const results = await this.write(batch.map((p) => p.item));
        for (const [i, p] of batch.entries()) p.resolve(results ? results[i]! : (undefined as R));
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
