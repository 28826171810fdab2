import { Redis } from "ioredis";
import { ConfigError } from "../../runtime/errors.ts";

/**
 * Fails fast with a ConfigError when Redis cannot be reached. BullMQ's own connection retries
 * forever, so without this check a server started before Redis would hang silently.
 */
export async function assertRedisReachable(redisUrl: string, timeoutMs = 3000): Promise<void> {
  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // The first socket error says why (ECONNREFUSED, ENOTFOUND, auth); the rejected command
  // only says "Connection is closed". A listener also stops ioredis from logging it.
  let cause: Error | undefined;
  redis.on("error", (err: Error) => {
    cause ??= err;
  });
  try {
    await withTimeout(
      (async () => {
        await redis.connect();
        await redis.ping();
      })(),
      timeoutMs,
    );
  } catch (err) {
    throw new ConfigError(
      `Cannot reach Redis at ${maskRedisUrl(redisUrl)} (${(cause ?? (err as Error)).message}): start redis-server or set REDIS_URL / --redis-url. ` +
        "A single box can also run the server on its local queue with --queue local.",
    );
  } finally {
    redis.disconnect();
  }
}

/** Hides a password in redis://user:pass@host URLs. */
export function maskRedisUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
