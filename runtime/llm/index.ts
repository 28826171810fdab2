export type { ChatMessage, LLM, LLMCallOptions } from "./types.ts";
export { unconfiguredLLM } from "./unconfigured.ts";
