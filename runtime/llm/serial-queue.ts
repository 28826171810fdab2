/**
 * Runs tasks one at a time, in arrival order. The embedded model has one context sequence;
 * two generations on it at once would corrupt each other's state, so calls wait their turn
 * instead of failing. A task whose signal aborted while it waited is skipped, not run.
 */
export interface SerialQueue {
  run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** tasks waiting or running */
  readonly size: number;
}

export function createSerialQueue(): SerialQueue {
  let tail: Promise<void> = Promise.resolve();
  let size = 0;
  return {
    run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
      const previous = tail;
      let release!: () => void;
      tail = new Promise<void>((resolve) => {
        release = resolve;
      });
      size++;
      return previous.then(async () => {
        try {
          if (signal?.aborted) throw signal.reason;
          return await task();
        } finally {
          size--;
          release();
        }
      });
    },
    get size() {
      return size;
    },
  };
}
