import type { Message, Ollama, Options, Tool } from "ollama";
import { type CallScope, guardOnToken } from "./call-scope.ts";
import { llmErrors } from "./errors.ts";
import { createOllamaCaller } from "./ollama-call.ts";
import { ollamaModelOps } from "./ollama-models.ts";
import { retryMessages, retryPrompt, withStructuredRetry } from "./structured.ts";
import type {
  ChatMessage,
  ChatResult,
  GenerateResult,
  LLM,
  LLMCallOptions,
  ToolCall,
  ToolDefinition,
} from "./types.ts";

export const DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434";

export interface OllamaLLMOptions {
  /** OLLAMA_HOST; default http://127.0.0.1:11434 */
  host?: string;
  /** the model used when a call names none */
  model?: string;
  /** inputs per /api/embed request */
  embedBatchSize?: number;
  fetch?: typeof fetch;
}

/**
 * The `ollama` provider: the official `ollama` npm client against an Ollama daemon.
 * Every generation streams (NDJSON), so onToken, mid-stream errors and cancellation behave
 * the same with or without a token callback.
 *
 * @example
 *   const llm = createOllamaLLM({ host: process.env.OLLAMA_HOST, model: "llama3.2:1b" });
 *   const { json } = await llm.chat(messages, { format: z.toJSONSchema(Plan), timeoutMs: 30_000 });
 */
export function createOllamaLLM(options: OllamaLLMOptions = {}): LLM {
  const caller = createOllamaCaller(options.host || DEFAULT_OLLAMA_HOST, options.fetch);
  const { call, consume } = caller;
  const batchSize = Math.max(1, options.embedBatchSize ?? 32);

  const modelFor = (requested?: string): string => {
    const model = requested ?? options.model;
    if (!model) {
      throw llmErrors.unavailable(
        "No Ollama model chosen: set SUTAZAI_LLM_MODEL (e.g. llama3.2:1b, after `ollama pull llama3.2:1b`) or pass a model per function.",
      );
    }
    return model;
  };

  async function chatOnce(
    client: Ollama,
    scope: CallScope,
    model: string,
    messages: ChatMessage[],
    opts: LLMCallOptions,
  ): Promise<ChatResult> {
    const stream = await client.chat({
      model,
      messages: messages.map(toOllamaMessage),
      stream: true,
      format: opts.format,
      tools: opts.tools?.map(toOllamaTool),
      options: modelOptions(opts),
    });
    let content = "";
    const toolCalls: ToolCall[] = [];
    const onToken = guardOnToken(scope, opts.onToken);
    const final = await consume(stream, scope, (chunk) => {
      const piece = chunk.message?.content ?? "";
      if (piece) {
        content += piece;
        onToken?.(piece);
      }
      for (const c of chunk.message?.tool_calls ?? [])
        toolCalls.push({ name: c.function.name, arguments: c.function.arguments ?? {} });
    });
    return {
      content,
      model: final.model || model,
      ...(toolCalls.length ? { toolCalls } : {}),
      doneReason: toolCalls.length ? "tool_calls" : final.done_reason,
      usage: { promptTokens: final.prompt_eval_count, completionTokens: final.eval_count },
    };
  }

  async function generateOnce(
    client: Ollama,
    scope: CallScope,
    model: string,
    prompt: string,
    opts: LLMCallOptions,
  ): Promise<GenerateResult> {
    const stream = await client.generate({
      model,
      prompt,
      stream: true,
      format: opts.format,
      options: modelOptions(opts),
    });
    let text = "";
    const onToken = guardOnToken(scope, opts.onToken);
    const final = await consume(stream, scope, (chunk) => {
      const piece = chunk.response ?? "";
      if (piece) {
        text += piece;
        onToken?.(piece);
      }
    });
    return {
      text,
      model: final.model || model,
      doneReason: final.done_reason,
      usage: { promptTokens: final.prompt_eval_count, completionTokens: final.eval_count },
    };
  }

  return {
    provider: "ollama",

    async chat(messages, opts = {}) {
      const model = modelFor(opts.model);
      return call(opts, model, async (client, scope) => {
        if (!opts.format) return chatOnce(client, scope, model, messages, opts);
        return withStructuredRetry(
          opts.format,
          (r) => r.content,
          (retry) => chatOnce(client, scope, model, retryMessages(messages, retry), opts),
        );
      });
    },

    async generate(prompt, opts = {}) {
      const model = modelFor(opts.model);
      return call(opts, model, async (client, scope) => {
        if (!opts.format) return generateOnce(client, scope, model, prompt, opts);
        return withStructuredRetry(
          opts.format,
          (r) => r.text,
          (retry) => generateOnce(client, scope, model, retryPrompt(prompt, retry), opts),
        );
      });
    },

    async embed(input, opts = {}) {
      const model = modelFor(opts.model);
      return call(opts, model, async (client) => {
        const vectors: number[][] = [];
        for (let i = 0; i < input.length; i += batchSize) {
          const batch = input.slice(i, i + batchSize);
          const res = await client.embed({ model, input: batch });
          if (res.embeddings?.length !== batch.length) {
            throw llmErrors.upstream(
              `Ollama returned ${res.embeddings?.length ?? 0} embeddings for ${batch.length} inputs.`,
            );
          }
          vectors.push(...res.embeddings);
        }
        return vectors;
      });
    },

    ...ollamaModelOps(caller, modelFor),

    // Ollama has no tokenizer endpoint; over-counting is the safe side for "does it fit?".
    countTokens: async (text) => Math.ceil(text.length / 3),

    close: async () => {},
  };
}

function modelOptions(opts: LLMCallOptions): Partial<Options> {
  const o: Partial<Options> = {};
  if (opts.temperature !== undefined) o.temperature = opts.temperature;
  if (opts.maxTokens !== undefined) o.num_predict = opts.maxTokens;
  if (opts.stop?.length) o.stop = opts.stop;
  if (opts.seed !== undefined) o.seed = opts.seed;
  return o;
}

function toOllamaMessage(m: ChatMessage): Message {
  const out: Message = { role: m.role, content: m.content };
  if (m.toolCalls?.length)
    out.tool_calls = m.toolCalls.map((c) => ({ function: { name: c.name, arguments: c.arguments } }));
  if (m.toolName) out.tool_name = m.toolName;
  return out;
}

function toOllamaTool(t: ToolDefinition): Tool {
  const parameters = (t.parameters ?? { type: "object", properties: {} }) as Tool["function"]["parameters"];
  return { type: "function", function: { name: t.name, description: t.description, parameters } };
}
