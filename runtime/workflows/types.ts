import type { Principal } from "../auth/principal.ts";
import type { FinishedInvocation } from "../invoke.ts";
import type { StepStatus, WorkflowSpec, WorkflowStatus } from "./spec.ts";

export interface StepError {
  code: string;
  message: string;
  status?: number;
}

/** One step as GET /v1/workflows/:id shows it. Times are ISO strings, like invocations. */
export interface WorkflowStepView {
  id: string;
  function: string;
  dependsOn: string[];
  /** `running` while its invocation runs; `queued` also between retry attempts */
  status: StepStatus;
  invocationId: string | null;
  attempts: number;
  /** present once the step succeeded */
  output?: unknown;
  error: StepError | null;
  queuedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
}

export interface WorkflowView {
  id: string;
  status: WorkflowStatus;
  onFailure: "stop" | "continue";
  /** id of the principal that started it (and that every step runs as) */
  principal: string;
  error: { code: string; message: string } | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  steps: WorkflowStepView[];
}

export interface WaitOptions {
  /** stop waiting (rejects with 499 CANCELLED); the workflow itself goes on */
  signal?: AbortSignal;
  /** reject with 504 WORKFLOW_WAIT_TIMEOUT after this long; default: no limit */
  timeoutMs?: number;
}

/** The workflow engine of a node (runtime/workflows/engine.ts). */
export interface WorkflowEngine {
  /** validates (422 WORKFLOW_INVALID) and starts a workflow whose steps run as `principal` */
  start(spec: unknown, principal: Principal): Promise<{ id: string }>;
  /** the workflow with every step's status, timings, output or error; 404 WORKFLOW_NOT_FOUND */
  get(id: string): Promise<WorkflowView>;
  /** pending steps are cancelled, queued invocations withdrawn; running ones finish, nothing new starts */
  cancel(id: string): Promise<WorkflowView>;
  /** resolves with the final view once the workflow ended and no step invocation is in flight */
  wait(id: string, opts?: WaitOptions): Promise<WorkflowView>;
  /** the invoker's onFinished hook: records a step's result and starts the steps it unblocked */
  onInvocationFinished(event: FinishedInvocation): Promise<void>;
  /** at node start: finishes the bookkeeping a restart interrupted */
  recover(): Promise<void>;
  /** wakes waiters with 503 and accepts no more waits (node shutdown) */
  close(): void;
}

/** `ctx.workflows`: the engine as the function's caller, who may only read their own workflows. */
export interface WorkflowsClient {
  start(spec: WorkflowSpec): Promise<{ id: string }>;
  get(id: string): Promise<WorkflowView>;
  wait(id: string, opts?: WaitOptions): Promise<WorkflowView>;
}
