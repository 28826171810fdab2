export { type AuditRow, auditLog } from "./audit.ts";
export { type ApiKeyRow, apiKeys, type SigningKeyRow, signingKeys } from "./auth.ts";
export {
  type ConversationMessageRow,
  type ConversationRow,
  conversationMessages,
  conversations,
} from "./conversations.ts";
export { type InvocationRow, invocations } from "./invocations.ts";
export { type JobRow, jobs } from "./jobs.ts";
export { nodeMeta } from "./node-meta.ts";
export { state } from "./state.ts";
export { telemetryReadings } from "./telemetry.ts";
export { type WorkflowRow, type WorkflowStepRow, workflowSteps, workflows } from "./workflows.ts";
export { knowledgeCollections, knowledgeDocuments, knowledgeChunks, knowledgeIndexes, type KnowledgeCollectionRow, type KnowledgeDocumentRow, type KnowledgeChunkRow, type KnowledgeIndexRow } from "./knowledge.ts";
