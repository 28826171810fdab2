import { constants } from "node:os";
import type { Logger } from "../runtime/log.ts";

const SIGNALS: NodeJS.Signals[] = ["SIGTERM", "SIGINT"];

export interface ShutdownOptions {
  /** after this long the process exits 1 even if `stop` has not finished: a wedged dependency must not keep a unit in "deactivating" forever */
  hardDeadlineMs: number;
  /** injectable for tests; defaults to process.exit */
  exit?: (code: number) => void;
}

/**
 * On the first SIGTERM/SIGINT runs `stop` (graceful: finish or release work) and exits 0, or 1
 * if `stop` failed. A second signal exits at once with 128+signo, because an operator pressing
 * Ctrl-C twice means "now". Returns a function that removes the handlers.
 */
export function exitOnSignal(
  stop: (signal: NodeJS.Signals) => Promise<void>,
  log: Logger,
  opts: ShutdownOptions,
): () => void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn("second signal: exiting without waiting", { signal });
      exit(128 + (constants.signals[signal] ?? 0));
      return;
    }
    stopping = true;
    log.info("shutting down", { signal });
    setTimeout(() => {
      log.error("shutdown did not finish in time: exiting", { afterMs: opts.hardDeadlineMs });
      exit(1);
    }, opts.hardDeadlineMs).unref();
    stop(signal).then(
      () => {
        log.info("stopped", { signal });
        exit(0);
      },
      (err: unknown) => {
        log.error("shutdown failed", { error: err instanceof Error ? err : String(err) });
        exit(1);
      },
    );
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  return () => {
    for (const s of SIGNALS) process.off(s, onSignal);
  };
}
