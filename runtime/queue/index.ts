export { createLocalQueue, type LocalQueueOptions } from "./local.ts";
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
