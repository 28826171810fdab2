import type { Config } from "../../runtime/config.ts";
import type { Database } from "../../runtime/db.ts";
import type { Logger } from "../../runtime/log.ts";
import { createBullmqQueue } from "../../runtime/queue/bullmq.ts";
import type { Queue } from "../../runtime/queue/types.ts";
import { localQueue } from "../compose.ts";
import { assertRedisReachable } from "./redis-check.ts";

/**
 * The queue factory for server and worker processes: BullMQ on Redis by default, checked
 * before start-up so an absent Redis is a clear error instead of a hang; or the local
 * libSQL queue (`--queue local`) for a single box without Redis — worker processes sharing
 * the data dir then claim jobs from the same table.
 */
export async function serverQueue(config: Config, log: Logger): Promise<(database: Database) => Queue> {
  if (config.queue === "local") {
    return localQueue(config, log);
  }
  const redisUrl = config.redisUrl ?? "redis://127.0.0.1:6379";
  await assertRedisReachable(redisUrl);
  return () =>
    createBullmqQueue({
      redisUrl,
      log: log.child({ component: "queue.bullmq" }),
      graceMs: config.shutdownGraceMs,
      queueName: config.queueName,
    });
}
