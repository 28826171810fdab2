export { createLLM, type LLMConfig } from "./create.ts";
export { createEmbeddedLLM, type EmbeddedLLMOptions } from "./embedded.ts";
export { defaultThreads, NODE_LLAMA_CPP_INSTALL } from "./embedded-runtime.ts";
export { createOllamaLLM, DEFAULT_OLLAMA_HOST, type OllamaLLMOptions } from "./ollama.ts";
export { checkStructured } from "./structured.ts";
export type {
  ChatMessage,
  ChatResult,
  DoneReason,
  EmbedOptions,
  GenerateResult,
  LLM,
  LLMCallOptions,
  LLMUsage,
  LoadedModel,
  ModelInfo,
  PullProgress,
  ToolCall,
  ToolDefinition,
} from "./types.ts";
export { unconfiguredLLM } from "./unconfigured.ts";
