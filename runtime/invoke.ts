import type { InvocationRow } from "../schema/index.ts";
import type { Principal } from "./auth/principal.ts";
import { canInvoke } from "./auth/rbac.ts";
import type { Catalogue } from "./catalogue.ts";
import type { Db } from "./db.ts";
import { AppError, serializeError } from "./errors.ts";
import type { AnyFunction, FunctionContext, LimitsControl, NodeInfo } from "./function.ts";
import { uuidv7 } from "./ids.ts";
import type { ConcurrencyLimits } from "./invocations/concurrency.ts";
import { isPermanent, parseInput, runHandler } from "./invocations/execute.ts";
import type { InvocationStore, NewInvocation } from "./invocations/store.ts";
import { withTokenSink } from "./llm/token-sink.ts";
import type { LLM } from "./llm/types.ts";
import type { Logger } from "./log.ts";
import type { Forwarder, Placement } from "./placement/forwarder.ts";
import type { ActiveJob, JobPayload, Queue, Trigger } from "./queue/types.ts";
import type { StateStore } from "./state.ts";
import type { RuntimeMetrics } from "./telemetry/metrics.ts";
import { withSpan } from "./telemetry/tracing.ts";
import { workflowsClient } from "./workflows/context.ts";
import type { WorkflowEngine } from "./workflows/types.ts";

export interface InvokeRequest {
  function: string;
  input: unknown;
  principal: Principal;
  trigger: Trigger;
  idempotencyKey?: string;
  signal?: AbortSignal;
  /** nesting depth of ctx.invoke calls; guards against agents calling each other forever */
  depth?: number;
  /** streaming callers (SSE): receives every token the function's LLM calls generate */
  onToken?: (token: string) => void;
  /** where to run: `server` forwards from an edge to its server (queued while offline) */
  placement?: Placement;
}

export interface InvocationResult {
  id: string;
  function: string;
  status: "succeeded";
  output: unknown;
  durationMs: number;
  /** true when an Idempotency-Key matched an earlier invocation and its result was returned */
  replayed?: boolean;
}

/** What observers (audit log, sync outbox, ...) learn about each finished attempt. */
export interface FinishedInvocation {
  id: string;
  function: string;
  trigger: Trigger;
  principal: Principal;
  status: string;
  durationMs: number;
  error?: { code: string; message: string };
  input?: unknown;
}

export interface InvokerDeps {
  db: Db;
  catalogue: Catalogue;
  store: InvocationStore;
  queue: Queue;
  state: StateStore;
  llm: LLM;
  node: () => NodeInfo;
  log: Logger;
  /** per-function caps on invocations running at once */
  limits?: ConcurrencyLimits;
  /** base of the exponential backoff between attempts of async invocations */
  retryBackoffMs?: number;
  metrics: RuntimeMetrics;
  onFinished?: (event: FinishedInvocation) => Promise<void> | void;
  /** sends `placement: server` invocations from an edge to its server */
  forwarder?: Forwarder;
  /** the node's workflow engine for ctx.workflows; a getter, since the engine is built after the invoker */
  workflows?: () => WorkflowEngine | undefined;
  /**
   * Whether the credential a queued job carries is still good (not revoked or expired): a
   * job runs later than it was asked for, and a revocation must stop it too.
   */
  credentialUsable?: (principal: Principal) => Promise<boolean>;
}

const MAX_DEPTH = 8;
/** attempts of a job waiting for its server: with backoff capped at 5 minutes, days of offline time */
const SERVER_WAIT_ATTEMPTS = 2000;
const DEFAULT_BACKOFF_MS = 1000;

/**
 * The ONE invocation path. HTTP, queue jobs, workflows, triggers and ctx.invoke all come
 * through here: authorize → validate input → run with timeout → validate output → record.
 */
export class Invoker {
  constructor(private readonly deps: InvokerDeps) {}

  /** Runs a function now and returns its output; throws an AppError on failure. */
  async invoke(req: InvokeRequest): Promise<InvocationResult> {
    const fn = this.authorize(req);
    const id = uuidv7();
    const startedAt = Date.now();
    const base: NewInvocation = {
      id,
      function: fn.name,
      trigger: req.trigger,
      status: "running",
      attempt: 1,
      maxAttempts: 1,
      principal: req.principal.id,
      nodeId: this.deps.node().id,
      startedAt,
      idempotencyKey: req.idempotencyKey,
    };
    let rowExists = false;
    if (req.idempotencyKey) {
      const earlier = await this.deps.store.insertIdempotent(base);
      if (earlier) return replay(sameCaller(earlier, req.principal));
      rowExists = true;
    }
    return withSpan("invoke", { "sutazai.function": fn.name, "sutazai.trigger": req.trigger }, async () => {
      let output: unknown;
      let failure: unknown;
      let release: (() => void) | undefined;
      try {
        release = this.deps.limits?.acquire(fn.name);
        const input = parseInput(fn, req.input);
        output = this.onServer(fn, req)
          ? (await this.deps.forwarder!.forward(fn.name, input, req.principal, id, req.signal)).output
          : await runHandler(
              fn,
              input,
              this.context(fn, id, req, () => {
                rowExists = true;
              }),
              req.signal,
            );
      } catch (err) {
        failure = err;
      } finally {
        release?.();
      }
      const finishedAt = Date.now();
      const durationMs = finishedAt - startedAt;
      const error = failure === undefined ? undefined : serializeError(failure);
      const final = {
        status: failure === undefined ? "succeeded" : "failed",
        output: failure === undefined ? JSON.stringify(output) : null,
        error: error ? JSON.stringify(error) : null,
        finishedAt,
        durationMs,
      };
      if (rowExists) await this.deps.store.update(id, final);
      else await this.deps.store.insert({ ...base, ...final });
      await this.finished(fn, req, id, final.status, durationMs, error);
      if (failure !== undefined) throw withInvocationId(failure, id);
      return { id, function: fn.name, status: "succeeded" as const, output, durationMs };
    });
  }

  /** Validates and queues an invocation; a worker runs it later through runJob(). */
  async enqueue(req: InvokeRequest & { delayMs?: number }): Promise<{ id: string; existing: boolean }> {
    const fn = this.authorize(req);
    parseInput(fn, req.input); // reject bad input now, not after a retry cycle
    const id = uuidv7();
    const remote = this.onServer(fn, req);
    // A job waiting for its server retries (with capped backoff) until the link is back.
    const maxAttempts = remote ? SERVER_WAIT_ATTEMPTS : (fn.retries ?? 0) + 1;
    const row: NewInvocation = {
      id,
      function: fn.name,
      trigger: req.trigger,
      status: "queued",
      attempt: 0,
      maxAttempts,
      input: JSON.stringify(req.input ?? null),
      principal: req.principal.id,
      caller: JSON.stringify(req.principal),
      placement: remote ? "server" : null,
      nodeId: this.deps.node().id,
      queuedAt: Date.now(),
      idempotencyKey: req.idempotencyKey,
    };
    if (req.idempotencyKey) {
      const earlier = await this.deps.store.insertIdempotent(row);
      if (earlier) return { id: sameCaller(earlier, req.principal).id, existing: true };
    } else {
      await this.deps.store.insert(row);
    }
    // A crash right here leaves a queued row without a job: requeueLost() puts it back.
    await withSpan("queue.enqueue", { "sutazai.function": fn.name }, () =>
      this.deps.queue.enqueue(jobPayload(row, req.input, req.principal), {
        id,
        maxAttempts,
        backoffMs: this.deps.retryBackoffMs ?? DEFAULT_BACKOFF_MS,
        delayMs: req.delayMs,
      }),
    );
    return { id, existing: false };
  }

  /**
   * Puts back on the queue this node's invocations that have been `queued` for longer than
   * `olderThanMs` — the ones whose job the queue never got (the process died between the
   * row and the enqueue) or lost. Safe to run any time, from any number of workers: a job
   * still in the queue has the same id and is left alone, and a run that already ended
   * finds its row finished and does nothing. Returns how many were offered again.
   */
  async requeueLost(olderThanMs = 60_000): Promise<number> {
    const rows = await this.deps.store.staleQueued(this.deps.node().id, Date.now() - olderThanMs, 500);
    let offered = 0;
    for (const row of rows) {
      const principal = callerOf(row);
      if (!principal) continue; // unreadable caller: left for an operator
      await this.deps.queue.enqueue(jobPayload(row, row.input ? JSON.parse(row.input) : null, principal), {
        id: row.id,
        maxAttempts: row.maxAttempts,
        backoffMs: this.deps.retryBackoffMs ?? DEFAULT_BACKOFF_MS,
      });
      offered++;
    }
    if (offered > 0) this.deps.log.warn("re-queued invocations the queue did not hold", { count: offered });
    return offered;
  }

  /** The queue worker's handler. Throws to ask the queue for a retry. */
  runJob = async (job: ActiveJob): Promise<void> => {
    const { payload } = job;
    const id = payload.invocationId;
    const startedAt = Date.now();
    // One statement marks it running unless it already ended (a duplicate delivery, or
    // cancelled while queued): then there is nothing to do.
    if (!(await this.deps.store.startRun(id, job.attempt, startedAt))) return;
    const req: InvokeRequest = { ...payload, signal: job.signal };
    await withSpan(
      "queue.run",
      { "sutazai.function": payload.function, "sutazai.attempt": job.attempt },
      async () => {
        let release: (() => void) | undefined;
        try {
          if (this.deps.credentialUsable && !(await this.deps.credentialUsable(req.principal))) {
            throw new AppError(
              403,
              "CREDENTIAL_REVOKED",
              `The credential that queued this invocation (${req.principal.id}) has been revoked or has expired since; it does not run.`,
            );
          }
          const fn = this.authorize(req); // the principal travels with the job: re-checked at run time
          release = this.deps.limits?.acquire(fn.name);
          const input = parseInput(fn, payload.input);
          const output =
            payload.placement === "server" && this.deps.forwarder?.configured
              ? (await this.deps.forwarder.forward(fn.name, input, req.principal, id, job.signal)).output
              : await runHandler(fn, input, this.context(fn, id, req), job.signal);
          const finishedAt = Date.now();
          await this.deps.store.recordSucceeded(
            id,
            JSON.stringify(output),
            finishedAt,
            finishedAt - startedAt,
          );
          await this.finished(fn, req, id, "succeeded", finishedAt - startedAt);
        } catch (err) {
          const finishedAt = Date.now();
          const error = serializeError(err);
          const permanent = isPermanent(err);
          const last = job.attempt >= job.maxAttempts;
          const status = permanent ? "failed" : last ? "dead" : "queued";
          await this.deps.store.update(id, {
            status,
            error: JSON.stringify(error),
            finishedAt: status === "queued" ? null : finishedAt,
            durationMs: finishedAt - startedAt,
          });
          const fn = this.deps.catalogue.get(payload.function);
          if (fn) await this.finished(fn, req, id, status, finishedAt - startedAt, error);
          if (!permanent) throw err;
        } finally {
          release?.();
        }
      },
    );
  };

  /** Cancels a queued invocation. Running or finished ones cannot be cancelled. */
  async cancel(id: string): Promise<InvocationRow> {
    const row = await this.requireRow(id);
    if (row.status !== "queued") {
      throw new AppError(
        409,
        "INVOCATION_NOT_CANCELLABLE",
        `Invocation ${id} is ${row.status}; only queued ones can be cancelled.`,
      );
    }
    await this.deps.queue.cancel(id);
    // The row decides: a worker that picked the job up meanwhile sees "cancelled" and skips it.
    const ok = await this.deps.store.transition(id, ["queued"], {
      status: "cancelled",
      finishedAt: Date.now(),
    });
    if (!ok)
      throw new AppError(
        409,
        "INVOCATION_NOT_CANCELLABLE",
        `Invocation ${id} started before it could be cancelled.`,
      );
    return (await this.deps.store.get(id))!;
  }

  /** Puts a dead invocation back on the queue with a fresh set of attempts. */
  async redrive(id: string): Promise<InvocationRow> {
    const row = await this.requireRow(id);
    if (row.status !== "dead") {
      throw new AppError(
        409,
        "INVOCATION_NOT_DEAD",
        `Invocation ${id} is ${row.status}; only dead ones can be re-driven.`,
      );
    }
    const principal = callerOf(row);
    if (!principal) {
      throw new AppError(
        409,
        "INVOCATION_NOT_REDRIVABLE",
        `Invocation ${id} predates the recording of its caller, so it cannot be re-run on their behalf; invoke ${row.function} again.`,
      );
    }
    await this.deps.store.update(id, {
      status: "queued",
      attempt: 0,
      queuedAt: Date.now(),
      finishedAt: null,
    });
    const requeued = await this.deps.queue.redrive(id);
    if (!requeued) {
      // The queue lost the job (e.g. removed by retention): enqueue it again from the row,
      // as the caller who queued it — never with more rights than they had.
      const fn = this.deps.catalogue.require(row.function);
      await this.deps.queue.enqueue(jobPayload(row, row.input ? JSON.parse(row.input) : null, principal), {
        id,
        maxAttempts: (fn.retries ?? 0) + 1,
        backoffMs: this.deps.retryBackoffMs ?? DEFAULT_BACKOFF_MS,
      });
    }
    return (await this.deps.store.get(id))!;
  }

  /** Should this invocation run on the server? Decided on the edge; a server runs everything itself. */
  private onServer(fn: AnyFunction, req: InvokeRequest): boolean {
    const placement = req.placement ?? "auto";
    if (placement === "local" || this.deps.node().role === "server") return false;
    const forwarder = this.deps.forwarder;
    if (placement === "server") {
      if (!forwarder?.configured) {
        throw new AppError(
          422,
          "NO_SERVER",
          "placement=server needs an edge started with --server-url and SUTAZAI_SERVER_KEY.",
        );
      }
      return true;
    }
    // auto: the function's own preference, when the server is there to take it
    return fn.placement === "server" && forwarder?.configured === true && forwarder.online();
  }

  /** A context for a function's own REST routes (/fn/<name>/*); not recorded as an invocation. */
  contextFor(fn: AnyFunction, principal: Principal, signal: AbortSignal): FunctionContext {
    const req: InvokeRequest = { function: fn.name, input: undefined, principal, trigger: "http", signal };
    return { ...this.context(fn, uuidv7(), req), signal };
  }

  private async requireRow(id: string): Promise<InvocationRow> {
    const row = await this.deps.store.get(id);
    if (!row) throw new AppError(404, "INVOCATION_NOT_FOUND", `No invocation with id "${id.slice(0, 80)}".`);
    return row;
  }

  /**
   * The permission check of the invocation path (404 unknown function, 403 not allowed).
   * Every entry point below calls it; a streaming caller also calls it before it commits
   * to a 200 event stream, so a refusal is still an HTTP 403/404.
   */
  authorize(req: InvokeRequest): AnyFunction {
    const fn = this.deps.catalogue.require(req.function);
    if (!canInvoke(req.principal, fn)) {
      throw new AppError(
        403,
        "FORBIDDEN",
        `Your credential (role ${req.principal.role}) may not invoke "${fn.name}".`,
      );
    }
    if ((req.depth ?? 0) > MAX_DEPTH) {
      throw new AppError(
        422,
        "INVOKE_DEPTH_EXCEEDED",
        `Functions called each other more than ${MAX_DEPTH} levels deep.`,
      );
    }
    return fn;
  }

  private context(
    fn: AnyFunction,
    id: string,
    req: InvokeRequest,
    onRowCreated?: () => void,
  ): Omit<FunctionContext, "signal"> {
    const { deps } = this;
    return {
      invocationId: id,
      db: deps.db,
      state: deps.state,
      llm: req.onToken ? withTokenSink(deps.llm, req.onToken) : deps.llm,
      principal: req.principal,
      node: deps.node(),
      log: deps.log.child({ fn: fn.name, invocation: id }),
      ...platformViews(deps, req.principal),
      invoke: async <T>(name: string, input: unknown) => {
        const result = await this.invoke({
          function: name,
          input,
          principal: req.principal,
          trigger: "function",
          signal: req.signal,
          depth: (req.depth ?? 0) + 1,
        });
        return result.output as T;
      },
      workflows: workflowsClient(() => deps.workflows?.(), req.principal, req.signal),
      progress: async (progress) => {
        const json = JSON.stringify(progress);
        if (onRowCreated) {
          // A sync invocation has no row until it ends; progress makes it visible early.
          await deps.store.upsertRunning({
            id,
            function: fn.name,
            trigger: req.trigger,
            status: "running",
            attempt: 1,
            principal: req.principal.id,
            nodeId: deps.node().id,
            startedAt: Date.now(),
            progress: json,
          });
          onRowCreated();
        } else {
          await deps.store.update(id, { progress: json });
        }
      },
    };
  }

  private async finished(
    fn: AnyFunction,
    req: InvokeRequest,
    id: string,
    status: string,
    durationMs: number,
    error?: { code: string; message: string },
  ): Promise<void> {
    this.deps.metrics.invocations.inc({ function: fn.name, status });
    this.deps.metrics.duration.observe({ function: fn.name }, durationMs / 1000);
    await this.deps.onFinished?.({
      id,
      function: fn.name,
      trigger: req.trigger,
      principal: req.principal,
      status,
      durationMs,
      error: error && { code: error.code, message: error.message },
      input: fn.auditInput ? req.input : undefined,
    });
  }
}

/**
 * An Idempotency-Key replays the first result only to the caller who made it: another
 * principal reusing the key (guessed or leaked) must not read that result, nor learn the
 * invocation id. It gets a 409 and picks a key of its own.
 */
function sameCaller(row: InvocationRow, principal: Principal): InvocationRow {
  if (row.principal !== principal.id) {
    throw new AppError(
      409,
      "IDEMPOTENCY_KEY_CONFLICT",
      "This Idempotency-Key was already used by another credential for this function; use a key of your own.",
    );
  }
  return row;
}

function replay(row: InvocationRow): InvocationResult {
  if (row.status === "succeeded") {
    return {
      id: row.id,
      function: row.function,
      status: "succeeded",
      output: row.output ? JSON.parse(row.output) : null,
      durationMs: row.durationMs ?? 0,
      replayed: true,
    };
  }
  if (row.status === "failed" || row.status === "dead") {
    const e = row.error ? JSON.parse(row.error) : { status: 500, code: "FUNCTION_ERROR", message: "failed" };
    throw withInvocationId(new AppError(e.status ?? 500, e.code, e.message), row.id);
  }
  throw new AppError(
    409,
    "IDEMPOTENCY_IN_PROGRESS",
    `An invocation with this Idempotency-Key is ${row.status} (id ${row.id}); retry later for its result.`,
    { headers: { "Retry-After": "1", "X-Invocation-Id": row.id } },
  );
}

function withInvocationId(err: unknown, id: string): unknown {
  if (err instanceof AppError) {
    return new AppError(err.status, err.code, err.message, {
      title: err.title,
      errors: err.errors,
      headers: { ...err.headers, "X-Invocation-Id": id },
      cause: err.cause,
    });
  }
  const e = serializeError(err);
  return new AppError(500, e.code, `The function failed: ${e.message}`, {
    headers: { "X-Invocation-Id": id },
    cause: err,
  });
}

/**
 * What planning and tuning agents may see of the platform (FunctionContext.catalogue,
 * canInvoke, limits). The catalogue is public (GET /v1/functions); the concurrency limits
 * change how the node serves everyone, so only an admin's invocation gets them.
 */
function platformViews(
  deps: Pick<InvokerDeps, "catalogue" | "limits">,
  principal: Principal,
): Pick<FunctionContext, "catalogue" | "canInvoke" | "limits"> {
  const { catalogue, limits } = deps;
  const control: LimitsControl | undefined =
    limits && principal.role === "admin"
      ? { set: (fn, n) => limits.set(fn, n), snapshot: () => limits.snapshot() }
      : undefined;
  return {
    catalogue: () =>
      catalogue.list().map((fn) => {
        const d = catalogue.describe(fn);
        const { name, description, permission, input: inputSchema } = d;
        return { name, description, permission, inputSchema, input: fn.input };
      }),
    canInvoke: (name) => {
      const fn = catalogue.get(name);
      return fn !== undefined && canInvoke(principal, fn);
    },
    limits: control,
  };
}

/** The job a queued invocation row stands for (enqueue, requeueLost and redrive build it alike). */
function jobPayload(row: NewInvocation, input: unknown, principal: Principal): JobPayload {
  return {
    invocationId: row.id,
    function: row.function,
    input,
    principal,
    trigger: row.trigger as Trigger,
    ...(row.idempotencyKey ? { idempotencyKey: row.idempotencyKey } : {}),
    ...(row.placement === "server" ? { placement: "server" as const } : {}),
  };
}

/** The caller recorded with an async invocation, or null for rows that predate it. */
function callerOf(row: Pick<InvocationRow, "caller">): Principal | null {
  if (!row.caller) return null;
  try {
    return JSON.parse(row.caller) as Principal;
  } catch {
    return null;
  }
}
