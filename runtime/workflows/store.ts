import { and, asc, eq, inArray, isNull, or, sql } from "drizzle-orm";
import {
  invocations,
  type WorkflowRow,
  type WorkflowStepRow,
  workflowSteps,
  workflows,
} from "../../schema/index.ts";
import type { Principal } from "../auth/principal.ts";
import type { Db } from "../db.ts";
import type { StepStatus, ValidWorkflow, WorkflowStatus } from "./spec.ts";

/** A step with the live state of its current invocation (status, attempt, timings). */
export interface StepWithInvocation {
  step: WorkflowStepRow;
  invocation: {
    status: string;
    attempt: number;
    startedAt: number | null;
    finishedAt: number | null;
    durationMs: number | null;
  } | null;
}

/**
 * Reads and writes of `workflows` and `workflow_steps`. Every state change is ONE
 * conditional statement (WHERE status = …): a server and its workers share the database
 * and may advance the same workflow at the same moment; whichever statement matches first
 * wins and the other is a no-op, so a step is claimed, finished or cancelled once.
 */
export class WorkflowStore {
  constructor(private readonly db: Db) {}

  /** Inserts the workflow and its steps atomically, all pending. */
  async create(id: string, spec: ValidWorkflow, principal: Principal, now: number): Promise<void> {
    await this.db.batch([
      this.db.insert(workflows).values({
        id,
        status: "pending",
        onFailure: spec.onFailure,
        principal: JSON.stringify(principal),
        createdAt: now,
      }),
      this.db.insert(workflowSteps).values(
        spec.steps.map((s, position) => ({
          workflowId: id,
          stepId: s.id,
          position,
          function: s.function,
          input: JSON.stringify(s.input),
          dependsOn: JSON.stringify(s.dependsOn),
          status: "pending",
        })),
      ),
    ]);
  }

  async markRunning(id: string, now: number): Promise<void> {
    await this.db
      .update(workflows)
      .set({ status: "running", startedAt: now })
      .where(and(eq(workflows.id, id), eq(workflows.status, "pending")));
  }

  async load(id: string): Promise<{ workflow: WorkflowRow; steps: WorkflowStepRow[] } | undefined> {
    const workflow = await this.db.query.workflows.findFirst({ where: eq(workflows.id, id) });
    if (!workflow) return undefined;
    const steps = await this.db
      .select()
      .from(workflowSteps)
      .where(eq(workflowSteps.workflowId, id))
      .orderBy(asc(workflowSteps.position));
    return { workflow, steps };
  }

  /** Steps joined with their invocation rows, for views and reconciliation. */
  async stepsWithInvocations(id: string): Promise<StepWithInvocation[]> {
    const rows = await this.db
      .select({
        step: workflowSteps,
        status: invocations.status,
        attempt: invocations.attempt,
        startedAt: invocations.startedAt,
        finishedAt: invocations.finishedAt,
        durationMs: invocations.durationMs,
      })
      .from(workflowSteps)
      .leftJoin(invocations, eq(invocations.id, workflowSteps.invocationId))
      .where(eq(workflowSteps.workflowId, id))
      .orderBy(asc(workflowSteps.position));
    return rows.map(({ step, status, attempt, startedAt, finishedAt, durationMs }) => ({
      step,
      invocation:
        status === null ? null : { status, attempt: attempt ?? 0, startedAt, finishedAt, durationMs },
    }));
  }

  /**
   * pending → queued, only while the workflow is running: the one statement that decides
   * which process enqueues a step, and that no step starts after the workflow stopped.
   */
  async claim(workflowId: string, stepId: string, now: number): Promise<boolean> {
    const rows = await this.db
      .update(workflowSteps)
      .set({ status: "queued", queuedAt: now })
      .where(
        and(
          this.step(workflowId, stepId),
          eq(workflowSteps.status, "pending"),
          sql`exists (select 1 from ${workflows} where ${workflows.id} = ${workflowId} and ${workflows.status} = 'running')`,
        ),
      )
      .returning({ stepId: workflowSteps.stepId });
    return rows.length > 0;
  }

  /**
   * Records the invocation of a claimed step. Returns the step's status at that moment
   * (`cancelled` tells the caller to cancel the invocation it just made), or undefined when
   * the step already has an invocation (its result was recorded first).
   */
  async recordInvocation(
    workflowId: string,
    stepId: string,
    invocationId: string,
  ): Promise<StepStatus | undefined> {
    const rows = await this.db
      .update(workflowSteps)
      .set({ invocationId })
      .where(and(this.step(workflowId, stepId), isNull(workflowSteps.invocationId)))
      .returning({ status: workflowSteps.status });
    return rows[0]?.status as StepStatus | undefined;
  }

  /** Records a step's outcome unless it has one already; true when this call recorded it. */
  async finishStep(
    workflowId: string,
    stepId: string,
    fields: Partial<typeof workflowSteps.$inferInsert> & { status: StepStatus },
  ): Promise<boolean> {
    const rows = await this.db
      .update(workflowSteps)
      .set(fields)
      .where(and(this.step(workflowId, stepId), inArray(workflowSteps.status, ["queued", "running"])))
      .returning({ stepId: workflowSteps.stepId });
    return rows.length > 0;
  }

  async skip(workflowId: string, stepIds: string[], now: number): Promise<void> {
    if (stepIds.length === 0) return;
    await this.db
      .update(workflowSteps)
      .set({ status: "skipped", finishedAt: now })
      .where(
        and(
          eq(workflowSteps.workflowId, workflowId),
          inArray(workflowSteps.stepId, stepIds),
          eq(workflowSteps.status, "pending"),
        ),
      );
  }

  /** Cancels what cannot have started: pending steps, and claimed ones with no invocation yet. */
  async cancelUnstarted(workflowId: string, now: number): Promise<void> {
    await this.db
      .update(workflowSteps)
      .set({ status: "cancelled", finishedAt: now })
      .where(
        and(
          eq(workflowSteps.workflowId, workflowId),
          or(
            eq(workflowSteps.status, "pending"),
            and(eq(workflowSteps.status, "queued"), isNull(workflowSteps.invocationId)),
          ),
        ),
      );
  }

  /** Ends the workflow unless it has ended already; true when this call ended it. */
  async finishWorkflow(
    id: string,
    status: WorkflowStatus,
    now: number,
    error?: { code: string; message: string },
  ): Promise<boolean> {
    const rows = await this.db
      .update(workflows)
      .set({ status, finishedAt: now, error: error ? JSON.stringify(error) : null })
      .where(and(eq(workflows.id, id), inArray(workflows.status, ["pending", "running"])))
      .returning({ id: workflows.id });
    return rows.length > 0;
  }

  /** Workflows with work left: not ended, or ended with step invocations still in flight. */
  async unsettledIds(): Promise<string[]> {
    const open = await this.db
      .select({ id: workflows.id })
      .from(workflows)
      .where(inArray(workflows.status, ["pending", "running"]));
    const inFlight = await this.db
      .selectDistinct({ id: workflowSteps.workflowId })
      .from(workflowSteps)
      .where(inArray(workflowSteps.status, ["queued", "running"]));
    return [...new Set([...open, ...inFlight].map((r) => r.id))];
  }

  private step(workflowId: string, stepId: string) {
    return and(eq(workflowSteps.workflowId, workflowId), eq(workflowSteps.stepId, stepId));
  }
}
