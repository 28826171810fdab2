import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError } from "./errors.ts";
import type { LogLevel } from "./log.ts";

export type NodeRole = "edge" | "server" | "worker";

export interface Config {
  role: NodeRole;
  host: string;
  port: number;
  dataDir: string;
  dbUrl: string;
  dbAuthToken?: string;
  queue: "local" | "bullmq";
  redisUrl?: string;
  queueName: string;
  concurrency: number;
  retryBackoffMs: number;
  inlineWorker: boolean;
  bodyLimitBytes: number;
  shutdownGraceMs: number;
  logLevel: LogLevel;
  serverUrl?: string;
  serverKey?: string;
  adminKey?: string;
  metricsPublic: boolean;
  corsOrigins: string[];
  rateLimitPerSec: number;
  rateLimitBurst: number;
  tokenTtlSec: number;
  llmProvider: "none" | "ollama" | "embedded";
  llmModel?: string;
  llmThreads?: number;
  ollamaHost: string;
}

interface OptionSpec {
  key: keyof Config;
  flag: string;
  env: string;
  help: string;
  /** shown in --help; the real default may depend on the role */
  default?: string;
  secret?: boolean;
  boolean?: boolean;
}

/** Every setting, its flag and its environment variable. `sutazai --help` prints this table. */
export const OPTIONS: OptionSpec[] = [
  { key: "host", flag: "--host", env: "HOST", help: "interface to listen on", default: "127.0.0.1" },
  { key: "port", flag: "--port", env: "PORT", help: "HTTP port", default: "8787 (edge), 8788 (server)" },
  {
    key: "dataDir",
    flag: "--data-dir",
    env: "SUTAZAI_DATA_DIR",
    help: "where the node keeps its data",
    default: "./data",
  },
  {
    key: "dbUrl",
    flag: "--db-url",
    env: "SUTAZAI_DB_URL",
    help: "libSQL URL or file path",
    default: "<data-dir>/sutazai.db",
  },
  {
    key: "dbAuthToken",
    flag: "--db-auth-token",
    env: "SUTAZAI_DB_AUTH_TOKEN",
    help: "token for a remote libSQL server (or SUTAZAI_DB_AUTH_TOKEN_FILE)",
    secret: true,
  },
  {
    key: "queue",
    flag: "--queue",
    env: "SUTAZAI_QUEUE",
    help: "local (libSQL) or bullmq (Redis)",
    default: "local (edge), bullmq (server)",
  },
  {
    key: "redisUrl",
    flag: "--redis-url",
    env: "REDIS_URL",
    help: "Redis for the bullmq queue (or REDIS_URL_FILE)",
    default: "redis://127.0.0.1:6379",
    secret: true,
  },
  {
    key: "queueName",
    flag: "--queue-name",
    env: "SUTAZAI_QUEUE_NAME",
    help: "queue name (separates deployments sharing one Redis)",
    default: "invocations",
  },
  {
    key: "concurrency",
    flag: "--concurrency",
    env: "SUTAZAI_CONCURRENCY",
    help: "queued invocations run at once per worker",
    default: "8",
  },
  {
    key: "retryBackoffMs",
    flag: "--retry-backoff-ms",
    env: "SUTAZAI_RETRY_BACKOFF_MS",
    help: "base delay before retrying a failed async invocation (doubles each attempt, jittered)",
    default: "1000",
  },
  {
    key: "inlineWorker",
    flag: "--inline-worker",
    env: "SUTAZAI_INLINE_WORKER",
    help: "run a queue worker inside the HTTP node (true/false)",
    default: "true",
    boolean: true,
  },
  {
    key: "bodyLimitBytes",
    flag: "--body-limit",
    env: "SUTAZAI_BODY_LIMIT",
    help: "largest request body in bytes",
    default: "1048576",
  },
  {
    key: "shutdownGraceMs",
    flag: "--shutdown-grace-ms",
    env: "SUTAZAI_SHUTDOWN_GRACE_MS",
    help: "how long shutdown waits for running work",
    default: "10000",
  },
  {
    key: "logLevel",
    flag: "--log-level",
    env: "SUTAZAI_LOG_LEVEL",
    help: "debug, info, warn, error or silent",
    default: "info",
  },
  {
    key: "serverUrl",
    flag: "--server-url",
    env: "SUTAZAI_SERVER_URL",
    help: "edge: the central server to sync with",
  },
  {
    key: "serverKey",
    flag: "--server-key",
    env: "SUTAZAI_SERVER_KEY",
    help: "edge: a `node` key from the server (or SUTAZAI_SERVER_KEY_FILE)",
    secret: true,
  },
  {
    key: "adminKey",
    flag: "--admin-key",
    env: "SUTAZAI_ADMIN_KEY",
    help: "bootstrap admin secret instead of a generated <data-dir>/admin.key (or SUTAZAI_ADMIN_KEY_FILE)",
    secret: true,
  },
  {
    key: "metricsPublic",
    flag: "--metrics-public",
    env: "SUTAZAI_METRICS_PUBLIC",
    help: "serve /metrics without a credential (true/false)",
    default: "false",
    boolean: true,
  },
  {
    key: "corsOrigins",
    flag: "--cors-origins",
    env: "SUTAZAI_CORS_ORIGINS",
    help: "comma-separated origins allowed by CORS; empty = CORS off",
    default: "",
  },
  {
    key: "rateLimitPerSec",
    flag: "--rate-limit",
    env: "SUTAZAI_RATE_LIMIT",
    help: "requests per second per credential (token bucket refill)",
    default: "1000",
  },
  {
    key: "rateLimitBurst",
    flag: "--rate-burst",
    env: "SUTAZAI_RATE_BURST",
    help: "token bucket size per credential",
    default: "2000",
  },
  {
    key: "tokenTtlSec",
    flag: "--token-ttl",
    env: "SUTAZAI_TOKEN_TTL",
    help: "lifetime of JWTs from /v1/auth/token, seconds",
    default: "900",
  },
  {
    key: "llmProvider",
    flag: "--llm-provider",
    env: "SUTAZAI_LLM_PROVIDER",
    help: "none, ollama or embedded",
    default: "none",
  },
  {
    key: "llmModel",
    flag: "--llm-model",
    env: "SUTAZAI_LLM_MODEL",
    help: "model name (ollama) or GGUF path (embedded)",
  },
  {
    key: "llmThreads",
    flag: "--llm-threads",
    env: "SUTAZAI_LLM_THREADS",
    help: "embedded: CPU threads for the model",
    default: "1 on ≤ 2 cores, else cores/2",
  },
  {
    key: "ollamaHost",
    flag: "--ollama-host",
    env: "OLLAMA_HOST",
    help: "Ollama daemon URL",
    default: "http://127.0.0.1:11434",
  },
];

const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"];

/**
 * Builds the config from flags (win) and environment variables, validating every value.
 * Throws ConfigError with a message that says how to fix the problem.
 */
export function loadConfig(
  role: NodeRole,
  flags: Record<string, string | boolean | undefined> = {},
  env: NodeJS.ProcessEnv = process.env,
): Config {
  const raw = (spec: OptionSpec): string | undefined => {
    const flagName = spec.flag.slice(2);
    const fromFlag = flags[flagName];
    if (fromFlag !== undefined) return String(fromFlag);
    if (env[spec.env] !== undefined && env[spec.env] !== "") return env[spec.env];
    if (spec.secret) return readSecretFile(env, `${spec.env}_FILE`);
    return undefined;
  };
  const get = (key: keyof Config) => raw(OPTIONS.find((o) => o.key === key)!);

  const dataDir = resolve(get("dataDir") ?? "./data");
  const queue = (get("queue") ?? (role === "edge" ? "local" : "bullmq")) as Config["queue"];
  if (queue !== "local" && queue !== "bullmq") {
    throw new ConfigError(`--queue / SUTAZAI_QUEUE must be "local" or "bullmq", not "${queue}".`);
  }
  const llmProvider = (get("llmProvider") ?? "none") as Config["llmProvider"];
  if (!["none", "ollama", "embedded"].includes(llmProvider)) {
    throw new ConfigError(
      `--llm-provider / SUTAZAI_LLM_PROVIDER must be none, ollama or embedded, not "${llmProvider}".`,
    );
  }
  const logLevel = (get("logLevel") ?? "info") as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(
      `--log-level / SUTAZAI_LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, not "${logLevel}".`,
    );
  }
  const serverUrl = get("serverUrl");
  if (serverUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(serverUrl)) {
    throw new ConfigError(
      `--server-url / SUTAZAI_SERVER_URL must be an http(s) URL such as http://10.0.0.2:8788, not "${serverUrl}".`,
    );
  }
  const config: Config = {
    role,
    host: get("host") ?? "127.0.0.1",
    port: int(get("port"), role === "server" ? 8788 : 8787, "--port / PORT", 0, 65535),
    dataDir,
    dbUrl: get("dbUrl") ?? join(dataDir, "sutazai.db"),
    dbAuthToken: get("dbAuthToken"),
    queue,
    redisUrl: queue === "bullmq" ? (get("redisUrl") ?? "redis://127.0.0.1:6379") : get("redisUrl"),
    queueName: queueName(get("queueName") ?? "invocations"),
    concurrency: int(get("concurrency"), 8, "--concurrency / SUTAZAI_CONCURRENCY", 1, 1024),
    retryBackoffMs: int(
      get("retryBackoffMs"),
      1000,
      "--retry-backoff-ms / SUTAZAI_RETRY_BACKOFF_MS",
      1,
      3_600_000,
    ),
    inlineWorker: bool(get("inlineWorker"), role !== "worker", "--inline-worker / SUTAZAI_INLINE_WORKER"),
    bodyLimitBytes: int(
      get("bodyLimitBytes"),
      1024 * 1024,
      "--body-limit / SUTAZAI_BODY_LIMIT",
      1024,
      1024 ** 3,
    ),
    shutdownGraceMs: int(
      get("shutdownGraceMs"),
      10_000,
      "--shutdown-grace-ms / SUTAZAI_SHUTDOWN_GRACE_MS",
      0,
      600_000,
    ),
    logLevel,
    serverUrl: serverUrl?.replace(/\/+$/, ""),
    serverKey: get("serverKey"),
    adminKey: get("adminKey"),
    metricsPublic: bool(get("metricsPublic"), false, "--metrics-public / SUTAZAI_METRICS_PUBLIC"),
    corsOrigins: (get("corsOrigins") ?? "")
      .split(",")
      .map((o) => o.trim())
      .filter(Boolean),
    rateLimitPerSec: int(get("rateLimitPerSec"), 1000, "--rate-limit / SUTAZAI_RATE_LIMIT", 1, 1_000_000),
    rateLimitBurst: int(get("rateLimitBurst"), 2000, "--rate-burst / SUTAZAI_RATE_BURST", 1, 10_000_000),
    tokenTtlSec: int(get("tokenTtlSec"), 900, "--token-ttl / SUTAZAI_TOKEN_TTL", 30, 86_400),
    llmProvider,
    llmModel: get("llmModel"),
    llmThreads:
      get("llmThreads") === undefined
        ? undefined
        : int(get("llmThreads"), 1, "--llm-threads / SUTAZAI_LLM_THREADS", 1, 256),
    ollamaHost: get("ollamaHost") ?? "http://127.0.0.1:11434",
  };
  if (config.redisUrl && !/^rediss?:\/\//.test(config.redisUrl)) {
    throw new ConfigError(`REDIS_URL must look like redis://host:6379 (or rediss:// for TLS).`);
  }
  if (config.llmProvider === "embedded" && !config.llmModel) {
    throw new ConfigError("SUTAZAI_LLM_PROVIDER=embedded needs SUTAZAI_LLM_MODEL=/path/to/model.gguf.");
  }
  if (config.llmProvider === "embedded" && config.llmModel && !existsSync(config.llmModel)) {
    throw new ConfigError(`SUTAZAI_LLM_MODEL points at ${config.llmModel}, which does not exist.`);
  }
  return config;
}

function queueName(name: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
    throw new ConfigError(
      `--queue-name / SUTAZAI_QUEUE_NAME must be 1-64 letters, digits, "_" or "-", not "${name}".`,
    );
  }
  return name;
}

function int(value: string | undefined, fallback: number, name: string, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, not "${value}".`);
  }
  return n;
}

function bool(value: string | undefined, fallback: boolean, name: string): boolean {
  if (value === undefined) return fallback;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new ConfigError(`${name} must be true or false, not "${value}".`);
}

/** Secrets may come from a file (Docker/systemd credentials) instead of the environment. */
function readSecretFile(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const path = env[name];
  if (!path) return undefined;
  try {
    return readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new ConfigError(`${name} points at ${path}, which cannot be read: ${(err as Error).message}`);
  }
}

/** The config with secrets masked, for logs and /v1/config. */
export function describeConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  for (const spec of OPTIONS)
    if (spec.secret && out[spec.key]) out[spec.key] = maskSecret(spec.key, String(out[spec.key]));
  return out;
}

function maskSecret(key: string, value: string): string {
  if (key === "redisUrl") return value.replace(/\/\/[^@/]*@/, "//***@");
  return "***";
}
