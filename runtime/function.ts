import type { Hono } from "hono";
import type { z } from "zod";
import type { Principal } from "./auth/principal.ts";
import type { Db } from "./db.ts";
import type { LLM } from "./llm/types.ts";
import type { Logger } from "./log.ts";
import type { StateStore } from "./state.ts";
import type { WorkflowsClient } from "./workflows/types.ts";

export interface NodeInfo {
  id: string;
  role: "edge" | "server";
  /** false on an edge that cannot reach its server right now */
  online: boolean;
}

/** Everything a function can reach of the platform. One per invocation. */
export interface FunctionContext {
  invocationId: string;
  db: Db;
  state: StateStore;
  llm: LLM;
  principal: Principal;
  node: NodeInfo;
  log: Logger;
  /** aborted on timeout, cancellation or shutdown: pass it to anything slow */
  signal: AbortSignal;
  /** calls another function through the same invocation path, as the same principal */
  invoke<T = unknown>(name: string, input: unknown): Promise<T>;
  /** records progress of long work; visible on GET /v1/invocations/:id */
  progress(progress: Record<string, unknown>): Promise<void>;
  // --- platform views for agents that plan or tune (task-coordinator, resource-optimizer).
  // Optional only so hand-built test contexts need not fake them; the invoker always sets
  // catalogue and canInvoke.
  /** every function this node serves, as GET /v1/functions describes it, plus its zod input */
  catalogue?(): CatalogueEntry[];
  /** whether this invocation's principal may invoke `name` (false for unknown names) */
  canInvoke?(name: string): boolean;
  /** the node's per-function concurrency caps; present only for admin callers */
  limits?: LimitsControl;
  /** starts and follows workflows (DAGs of steps) as the same principal; the invoker always sets it */
  workflows?: WorkflowsClient;
}

/** One function as a planner sees it: enough to describe it to a model and check its input. */
export interface CatalogueEntry {
  name: string;
  description: string;
  permission: string;
  /** the input as JSON schema (what a model is shown) */
  inputSchema: unknown;
  /** the input as zod (what a plan's step input is checked against) */
  input: z.ZodType;
}

/** The part of the runtime's ConcurrencyLimits an admin's function may use. */
export interface LimitsControl {
  /** caps `fn` at `limit` invocations at once on this node; undefined removes the cap */
  set(fn: string, limit: number | undefined): void;
  snapshot(): Record<string, { running: number; limit?: number }>;
}

/** Variables a function's own Hono routes (/fn/<name>/*) find on `c.var`. */
export interface FunctionEnv {
  Variables: { ctx: FunctionContext };
}

export interface FunctionDefinition<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  /** lower-case, digits and dashes; the URL segment under /v1/functions and /fn */
  name: string;
  description: string;
  input: I;
  output: O;
  /** permission a caller needs to invoke it (runtime/auth/rbac.ts); default `functions:invoke` */
  permission?: string;
  timeoutMs?: number;
  /** extra attempts for async invocations after the first fails */
  retries?: number;
  /** where `placement=auto` runs it on an edge: "server" when reachable (LLM-heavy work), else here */
  placement?: "local" | "server";
  /** most invocations of this function running at once on one node (over it: 429) */
  concurrency?: number;
  /** record the raw input in the audit log (off by default: privacy) */
  auditInput?: boolean;
  handler(input: z.output<I>, ctx: FunctionContext): Promise<z.input<O>> | z.input<O>;
  /** optional REST-style routes, mounted at /fn/<name> */
  app?: Hono<FunctionEnv>;
}

export type AnyFunction = FunctionDefinition<z.ZodType, z.ZodType>;

const NAME_RE = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * Declares a function (an agent). Example:
 *
 *   export const echo = defineFunction({
 *     name: "echo", description: "Returns its input",
 *     input: z.object({ text: z.string() }), output: z.object({ text: z.string() }),
 *     handler: (input) => input,
 *   });
 */
export function defineFunction<I extends z.ZodType, O extends z.ZodType>(
  def: FunctionDefinition<I, O>,
): FunctionDefinition<I, O> {
  if (!NAME_RE.test(def.name)) {
    throw new Error(
      `Function name "${def.name}" is invalid: use lower-case letters, digits and dashes (max 63).`,
    );
  }
  if (def.timeoutMs !== undefined && !(def.timeoutMs > 0)) {
    throw new Error(`Function "${def.name}": timeoutMs must be a positive number of milliseconds.`);
  }
  return Object.freeze({ permission: "functions:invoke", timeoutMs: 30_000, retries: 2, ...def });
}

export const isValidFunctionName = (name: string): boolean => NAME_RE.test(name);
