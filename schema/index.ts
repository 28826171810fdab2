export { type AuditRow, auditLog, type EdgeAuditRow, edgeAuditLog } from "./audit.ts";
export { type ApiKeyRow, apiKeys, type SigningKeyRow, signingKeys } from "./auth.ts";
export {
  type ConversationMessageRow,
  type ConversationRow,
  conversationMessages,
  conversations,
} from "./conversations.ts";
export { type InvocationRow, invocations } from "./invocations.ts";
export { type JobRow, jobs } from "./jobs.ts";
export {
  type KnowledgeChunkRow,
  type KnowledgeCollectionRow,
  type KnowledgeDocumentRow,
  type KnowledgeIndexRow,
  knowledgeChunks,
  knowledgeCollections,
  knowledgeDocuments,
  knowledgeIndexes,
} from "./knowledge.ts";
export { nodeMeta } from "./node-meta.ts";
export { state } from "./state.ts";
export { telemetryReadings } from "./telemetry.ts";
export { type WorkflowRow, type WorkflowStepRow, workflowSteps, workflows } from "./workflows.ts";
