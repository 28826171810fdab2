export type {
  ActiveJob,
  DeadJob,
  EnqueueOptions,
  JobHandler,
  JobPayload,
  Queue,
  QueueCounts,
  QueueWorker,
  Trigger,
  WorkerOptions,
} from "./types.ts";
export { backoffDelay } from "./types.ts";
export { createLocalQueue, type LocalQueueOptions } from "./local.ts";
