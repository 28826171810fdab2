/**
 * The one LLM interface both providers (ollama, embedded) implement; functions see it as
 * `ctx.llm`. tests/llm-conformance.test.ts runs the same suite against both.
 *
 * Failures are AppErrors with stable codes: LLM_UNAVAILABLE (503), LLM_BUSY (503),
 * MODEL_NOT_FOUND (404), LLM_TIMEOUT (504), CANCELLED (499, or the AppError the caller's
 * signal was aborted with), LLM_OUTPUT_INVALID (502), LLM_STREAM_FAILED (502), LLM_ERROR (502).
 */
export interface ToolCall {
  name: string;
  arguments: Record<string, unknown>;
}

/** A tool the model may call (chat only). `parameters` is a JSON schema of the arguments. */
export interface ToolDefinition {
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
}

export interface ChatMessage {
  role: "system" | "user" | "assistant" | "tool";
  content: string;
  /** on an assistant message: the tools it called (send it back with the tool results) */
  toolCalls?: ToolCall[];
  /** on a tool message: which tool produced this result */
  toolName?: string;
}

export interface LLMCallOptions {
  /** model name (ollama tag, e.g. "llama3.2:1b"); defaults to the node's configured model */
  model?: string;
  signal?: AbortSignal;
  /** per-call deadline; exceeding it rejects with 504 LLM_TIMEOUT */
  timeoutMs?: number;
  temperature?: number;
  maxTokens?: number;
  stop?: string[];
  seed?: number;
  /**
   * JSON schema the answer must satisfy (structured output). The answer is always parsed and
   * validated; an invalid one is re-asked once with the errors, then fails with 502
   * LLM_OUTPUT_INVALID. On success the parsed value is in the result's `json`. If a re-ask
   * happens, onToken has already seen the rejected attempt's tokens.
   */
  format?: Record<string, unknown>;
  /** streaming: called with each piece of text as it is generated; the pieces join to the text */
  onToken?: (token: string) => void;
  /** chat only: tools the model may call; calls come back in `toolCalls` */
  tools?: ToolDefinition[];
}

export interface LLMUsage {
  promptTokens?: number;
  completionTokens?: number;
}

/** "stop" (natural end), "length" (maxTokens reached), "tool_calls", or the provider's word */
export type DoneReason = "stop" | "length" | "tool_calls" | (string & {});

export interface ChatResult {
  content: string;
  model: string;
  toolCalls?: ToolCall[];
  /** the parsed, validated answer when `format` was given */
  json?: unknown;
  doneReason?: DoneReason;
  usage?: LLMUsage;
}

export interface GenerateResult {
  text: string;
  model: string;
  json?: unknown;
  doneReason?: DoneReason;
  usage?: LLMUsage;
}

export interface EmbedOptions {
  model?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface ModelInfo {
  name: string;
  /** bytes on disk */
  size?: number;
  family?: string;
  parameterSize?: string;
  quantization?: string;
  modifiedAt?: string;
}

/** A model loaded in memory right now (for the resource optimizer). */
export interface LoadedModel {
  name: string;
  /** bytes of memory the loaded model takes (RAM + VRAM) */
  size: number;
  sizeVram?: number;
  contextLength?: number;
  /** when the provider will unload it if unused (ISO time) */
  expiresAt?: string;
}

export interface PullProgress {
  status: string;
  digest?: string;
  total?: number;
  completed?: number;
}

export interface LLM {
  readonly provider: "none" | "ollama" | "embedded";
  chat(messages: ChatMessage[], opts?: LLMCallOptions): Promise<ChatResult>;
  generate(prompt: string, opts?: LLMCallOptions): Promise<GenerateResult>;
  /** one vector per input, in order; inputs are sent in batches */
  embed(input: string[], opts?: EmbedOptions): Promise<number[][]>;
  listModels(): Promise<ModelInfo[]>;
  /** models loaded in memory with their size */
  ps(): Promise<LoadedModel[]>;
  /** downloads a model (Ollama); the embedded provider answers 400 LLM_PULL_UNSUPPORTED */
  pull(model: string, opts?: { onProgress?: (p: PullProgress) => void; signal?: AbortSignal }): Promise<void>;
  /** tokens the model's context holds (prompt + answer) */
  contextSize(model?: string): Promise<number>;
  /** exact on the embedded provider; a conservative estimate (~3 chars a token) on Ollama */
  countTokens(text: string, model?: string): Promise<number>;
  /** resolves when the provider can answer; rejects with LLM_UNAVAILABLE otherwise */
  ping(): Promise<void>;
  /** frees the model and its memory (embedded); later calls load it again */
  close(): Promise<void>;
}
