export { workflowsClient } from "./context.ts";
export { createWorkflowEngine, type WorkflowEngineDeps } from "./engine.ts";
export { findRefs, RefError, resolveRefs } from "./refs.ts";
export {
  MAX_STEPS,
  type StepSpec,
  type StepStatus,
  type WorkflowSpec,
  WorkflowSpecSchema,
  type WorkflowStatus,
} from "./spec.ts";
export type {
  StepError,
  WaitOptions,
  WorkflowEngine,
  WorkflowStepView,
  WorkflowsClient,
  WorkflowView,
} from "./types.ts";
export { validate } from "./validate.ts";
