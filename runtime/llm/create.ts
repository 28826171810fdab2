import { ConfigError } from "../errors.ts";
import { createEmbeddedLLM } from "./embedded.ts";
import { createOllamaLLM, DEFAULT_OLLAMA_HOST } from "./ollama.ts";
import type { LLM } from "./types.ts";
import { unconfiguredLLM } from "./unconfigured.ts";

export interface LLMConfig {
  llmProvider: "none" | "ollama" | "embedded";
  /** ollama: the default model tag; embedded: the GGUF path */
  llmModel?: string;
  ollamaHost?: string;
  /** embedded: CPU threads (default 1 on ≤ 2 cores) */
  llmThreads?: number;
  /** embedded: context tokens (default the model's, at most 4096) */
  llmContextSize?: number;
}

/**
 * The node's LLM from its config. Nothing is loaded or contacted here: Ollama is reached on
 * the first call and node-llama-cpp is imported on the first embedded call, so a node
 * starts (and serves everything else) without either. Functions pick their model per call
 * with `opts.model`; `llmModel` is the default.
 *
 * @example
 *   const llm = createLLM({ llmProvider: "ollama", llmModel: "llama3.2:1b", ollamaHost: "http://127.0.0.1:11434" });
 */
export function createLLM(config: LLMConfig): LLM {
  switch (config.llmProvider) {
    case "none":
      return unconfiguredLLM();
    case "ollama":
      return createOllamaLLM({ host: config.ollamaHost || DEFAULT_OLLAMA_HOST, model: config.llmModel });
    case "embedded":
      if (!config.llmModel)
        throw new ConfigError("SUTAZAI_LLM_PROVIDER=embedded needs SUTAZAI_LLM_MODEL=/path/to/model.gguf.");
      if (
        config.llmThreads !== undefined &&
        !(Number.isInteger(config.llmThreads) && config.llmThreads > 0)
      ) {
        throw new ConfigError(
          `The embedded LLM thread count must be a positive integer, not ${config.llmThreads}.`,
        );
      }
      return createEmbeddedLLM({
        modelPath: config.llmModel,
        threads: config.llmThreads,
        contextSize: config.llmContextSize,
      });
    default:
      throw new ConfigError(
        `SUTAZAI_LLM_PROVIDER must be none, ollama or embedded, not "${String(config.llmProvider)}".`,
      );
  }
}
