/**
 * What the optimizer measures. Plain data, so the policy (policy.ts) is a pure function of
 * it and tests can feed it synthetic numbers.
 */
export interface FunctionMetrics {
  name: string;
  /** invocations waiting in the queue now */
  queued: number;
  /** invocations running now (queue rows, or the node's live count when known) */
  running: number;
  /** finished invocations in the window, and how many of them failed */
  samples: number;
  failed: number;
  p50Ms: number | null;
  p95Ms: number | null;
  /** the node's current cap, when the caller may see it (admin) */
  limit?: number;
  /** spends most of its time in the LLM */
  llmHeavy: boolean;
}

export interface ModelMemory {
  name: string;
  sizeBytes: number;
}

export interface NodeMetrics {
  measuredAt: string;
  windowMs: number;
  node: { role: "edge" | "server"; online: boolean };
  cpu: { cores: number; load1: number; load5: number; load15: number; loadPerCore: number };
  memory: { totalBytes: number; freeBytes: number; freeRatio: number; processRssBytes: number };
  llm: {
    provider: string;
    /** false when the provider could not be asked (daemon down, none configured) */
    available: boolean;
    error?: string;
    /** models in memory now */
    loaded: ModelMemory[];
    /** models the provider could load (size on disk, roughly their memory) */
    installed: ModelMemory[];
  };
  functions: FunctionMetrics[];
}
