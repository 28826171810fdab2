import type { Context } from "hono";
import type { Principal } from "./auth/principal.ts";
import type { Security } from "./auth/security.ts";
import type { Catalogue } from "./catalogue.ts";
import type { Config } from "./config.ts";
import type { Database } from "./db.ts";
import type { NodeInfo } from "./function.ts";
import type { ConcurrencyLimits } from "./invocations/concurrency.ts";
import type { InvocationStore } from "./invocations/store.ts";
import type { Invoker } from "./invoke.ts";
import type { LLM } from "./llm/types.ts";
import type { Logger } from "./log.ts";
import type { Forwarder } from "./placement/forwarder.ts";
import type { Queue } from "./queue/types.ts";
import type { StateStore } from "./state.ts";
import type { RuntimeMetrics } from "./telemetry/metrics.ts";
import type { WorkflowEngine } from "./workflows/types.ts";

/** A named readiness check; `critical` ones make /readyz answer 503 when they fail. */
export interface ReadinessCheck {
  name: string;
  critical: boolean;
  check(): Promise<Record<string, unknown> | undefined>;
}

/** Turns a request into a principal, or throws 401. */
export type Authenticate = (c: Context<AppEnv>) => Promise<Principal> | Principal;

/** Everything the HTTP layer needs; assembled by runtime/node.ts. */
export interface Platform {
  config: Config;
  database: Database;
  catalogue: Catalogue;
  invoker: Invoker;
  invocations: InvocationStore;
  queue: Queue;
  state: StateStore;
  llm: LLM;
  metrics: RuntimeMetrics;
  log: Logger;
  node: () => NodeInfo;
  security: Security;
  /** an edge's link for `placement: server` invocations (absent on servers) */
  forwarder?: Forwarder;
  limits: ConcurrencyLimits;
  readiness: ReadinessCheck[];
  workflows: WorkflowEngine;
}

export interface AppEnv {
  Variables: {
    principal: Principal;
    body: unknown;
    /** the JSON text `body` was parsed from (undefined for an empty or multipart body) */
    bodyText: string | undefined;
  };
}
