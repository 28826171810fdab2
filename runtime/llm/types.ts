/**
 * The one LLM interface both providers (ollama, embedded) implement. Kept small here;
 * the LLM layer fills in the providers. Functions see it as `ctx.llm`.
 */
export interface ChatMessage {
  role: "system" | "user" | "assistant" | "tool";
  content: string;
}

export interface LLMCallOptions {
  model?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  temperature?: number;
  maxTokens?: number;
  /** JSON schema the answer must satisfy (structured output) */
  format?: Record<string, unknown>;
  onToken?: (token: string) => void;
}

export interface LLM {
  readonly provider: string;
  chat(messages: ChatMessage[], opts?: LLMCallOptions): Promise<{ content: string; model: string }>;
  generate(prompt: string, opts?: LLMCallOptions): Promise<{ text: string; model: string }>;
  embed(input: string[], opts?: { model?: string; signal?: AbortSignal }): Promise<number[][]>;
  listModels(): Promise<Array<{ name: string; size?: number }>>;
  ping(): Promise<void>;
}
