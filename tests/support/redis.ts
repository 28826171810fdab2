import { type ChildProcess, spawn } from "node:child_process";
import { createServer, Socket } from "node:net";

// A few lines of RESP instead of ioredis: runtime/queue/bullmq.ts stays the only module
// that imports a Redis client, and the tests only need PING and a key sweep.

const LOCAL_URL = "redis://127.0.0.1:6379";
let found: Promise<string> | undefined;
let spawned: ChildProcess | undefined;

/**
 * A Redis URL the bullmq tests can use: REDIS_URL if it answers, else a server on the
 * default port, else a throw-away `redis-server` started for this test process.
 */
export function ensureRedis(): Promise<string> {
  found ??= locate();
  return found;
}

async function locate(): Promise<string> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv && (await answers(fromEnv))) return fromEnv;
  if (await answers(LOCAL_URL)) return LOCAL_URL;
  const started = await startRedisServer().catch(() => undefined);
  if (started) return started;
  throw new Error(
    "Redis is required for the bullmq tests: set REDIS_URL or install redis-server" +
      (fromEnv ? ` (REDIS_URL=${fromEnv} did not answer PING)` : ""),
  );
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await redisCommand(url, ["PING"], 1000)) === "PONG";
  } catch {
    return false;
  }
}

async function startRedisServer(): Promise<string> {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--save", "", "--appendonly", "no"], {
    stdio: "ignore",
  });
  const failed = new Promise<never>((_, reject) => {
    child.once("error", reject); // ENOENT: not installed
    child.once("exit", (code) => reject(new Error(`redis-server exited with ${code}`)));
  });
  failed.catch(() => {});
  spawned = child;
  process.once("exit", () => spawned?.kill("SIGKILL"));
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    await Promise.race([failed, new Promise((r) => setTimeout(r, 50))]);
    if (await answers(url)) return url;
  }
  child.kill("SIGKILL");
  throw new Error("redis-server did not start within 5 s");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** Deletes every key matching `pattern` (e.g. "sutazai-test:q1:*"). */
export async function deleteRedisKeys(url: string, pattern: string): Promise<void> {
  const script =
    "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) n = n + 1 end return n";
  await redisCommand(url, ["EVAL", script, "0", pattern]);
}

type Reply = string | number | null | Reply[];

/** Sends one command (after AUTH/SELECT taken from the URL) and returns its reply. */
export async function redisCommand(url: string, args: string[], timeoutMs = 5000): Promise<Reply> {
  const u = new URL(url);
  const commands: string[][] = [];
  const password = decodeURIComponent(u.password);
  if (password)
    commands.push(u.username ? ["AUTH", decodeURIComponent(u.username), password] : ["AUTH", password]);
  const db = u.pathname.replace("/", "");
  if (db) commands.push(["SELECT", db]);
  commands.push(args);

  const socket = new Socket();
  socket.setTimeout(timeoutMs);
  try {
    const replies = await new Promise<Reply[]>((resolve, reject) => {
      let buffer = Buffer.alloc(0);
      socket.once("error", reject);
      socket.once("timeout", () => reject(new Error(`redis ${u.host}: no reply within ${timeoutMs} ms`)));
      socket.on("data", (chunk) => {
        buffer = Buffer.concat([buffer, chunk]);
        const parsed: Reply[] = [];
        let offset = 0;
        try {
          while (parsed.length < commands.length) {
            const next = parseReply(buffer, offset);
            if (!next) return; // incomplete: wait for more bytes
            parsed.push(next.value);
            offset = next.end;
          }
          resolve(parsed);
        } catch (err) {
          reject(err);
        }
      });
      socket.connect(Number(u.port || 6379), u.hostname, () => {
        socket.write(commands.map(encode).join(""));
      });
    });
    return replies[replies.length - 1] ?? null;
  } finally {
    socket.destroy();
  }
}

function encode(args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;
}

function parseReply(buf: Buffer, start: number): { value: Reply; end: number } | undefined {
  const lineEnd = buf.indexOf("\r\n", start);
  if (lineEnd < 0) return undefined;
  const kind = String.fromCharCode(buf[start]!);
  const line = buf.toString("utf8", start + 1, lineEnd);
  const after = lineEnd + 2;
  switch (kind) {
    case "+":
      return { value: line, end: after };
    case "-":
      throw new Error(`redis: ${line}`);
    case ":":
      return { value: Number(line), end: after };
    case "$": {
      const len = Number(line);
      if (len < 0) return { value: null, end: after };
      if (buf.length < after + len + 2) return undefined;
      return { value: buf.toString("utf8", after, after + len), end: after + len + 2 };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { value: null, end: after };
      const items: Reply[] = [];
      let offset = after;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, offset);
        if (!item) return undefined;
        items.push(item.value);
        offset = item.end;
      }
      return { value: items, end: offset };
    }
    default:
      throw new Error(`redis: unexpected reply type ${kind}`);
  }
}
