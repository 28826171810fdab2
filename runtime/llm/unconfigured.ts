import { AppError } from "../errors.ts";
import type { LLM } from "./types.ts";

/** Used when no provider is configured: every call explains how to configure one. */
export function unconfiguredLLM(): LLM {
  const fail = async (): Promise<never> => {
    throw new AppError(
      503,
      "LLM_UNAVAILABLE",
      "No LLM provider is configured on this node. Set SUTAZAI_LLM_PROVIDER=ollama (and OLLAMA_HOST) or SUTAZAI_LLM_PROVIDER=embedded with SUTAZAI_LLM_MODEL=/path/to/model.gguf.",
    );
  };
  return {
    provider: "none",
    chat: fail,
    generate: fail,
    embed: fail,
    listModels: async () => [],
    ps: async () => [],
    pull: fail,
    contextSize: fail,
    countTokens: fail,
    ping: fail,
    close: async () => {},
  };
}
