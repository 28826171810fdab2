export { invocations, type InvocationRow } from "./invocations.ts";
export { jobs, type JobRow } from "./jobs.ts";
export { nodeMeta } from "./node-meta.ts";
export { state } from "./state.ts";
export { telemetryReadings } from "./telemetry.ts";
export { apiKeys, signingKeys, type ApiKeyRow, type SigningKeyRow } from "./auth.ts";
export { auditLog, type AuditRow } from "./audit.ts";
export { workflows, workflowSteps, type WorkflowRow, type WorkflowStepRow } from "./workflows.ts";
export { conversations, conversationMessages, type ConversationRow, type ConversationMessageRow } from "./conversations.ts";
