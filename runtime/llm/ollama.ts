import { type AbortableAsyncIterator, type Message, Ollama, type Options, type Tool } from "ollama";
import { type CallScope, withCallScope } from "./call-scope.ts";
import { llmErrors } from "./errors.ts";
import { fromOllamaResponse, fromStreamFailure, ollamaFetch } from "./ollama-errors.ts";
import { withStructuredRetry } from "./structured.ts";
import type { ChatMessage, ChatResult, GenerateResult, LLM, LLMCallOptions, PullProgress, ToolCall } from "./types.ts";

export const DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434";
/** Ollama's num_ctx when a request does not set one (what a model gets until it is loaded). */
const OLLAMA_DEFAULT_NUM_CTX = 4096;

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
 * Every generation streams (NDJSON) so onToken, mid-stream errors and cancellation behave
 * the same with or without a token callback; a fresh client per call carries that call's
 * abort signal into fetch (the client forwards none on non-streaming requests).
 */
export function createOllamaLLM(options: OllamaLLMOptions = {}): LLM {
  const host = options.host || DEFAULT_OLLAMA_HOST;
  const batchSize = Math.max(1, options.embedBatchSize ?? 32);

  const modelFor = (requested?: string): string => {
    const model = requested ?? options.model;
    if (!model) {
      throw llmErrors.unavailable("No Ollama model chosen: set SUTAZAI_LLM_MODEL (e.g. llama3.2:1b, after `ollama pull llama3.2:1b`) or pass a model per function.");
    }
    return model;
  };

  /** One call: a scope (signal + timeout), a client bound to it, and error translation. */
  const call = <T>(opts: { signal?: AbortSignal; timeoutMs?: number }, model: string | undefined, fn: (client: Ollama, scope: CallScope) => Promise<T>) =>
    withCallScope(opts, async (scope) => {
      const client = new Ollama({ host, fetch: ollamaFetch(host, scope.signal, options.fetch) });
      try {
        return await fn(client, scope);
      } catch (err) {
        throw fromOllamaResponse(err, { host, model });
      }
    });

  /** Reads an NDJSON stream to its `done` chunk; anything going wrong midway is LLM_STREAM_FAILED. */
  async function consume<C extends { done?: boolean }>(stream: AbortableAsyncIterator<C>, scope: CallScope, onChunk: (chunk: C) => void): Promise<C> {
    const iterator = stream[Symbol.asyncIterator]();
    let last: C | undefined;
    try {
      for (;;) {
        let step: IteratorResult<C>;
        try {
          step = await iterator.next();
        } catch (err) {
          throw fromStreamFailure(err, { host, signal: scope.signal });
        }
        if (step.done) break;
        last = step.value;
        onChunk(step.value);
        if (step.value.done) break;
      }
    } finally {
      if (!last?.done) stream.abort(); // close the connection so Ollama stops generating
    }
    if (!last?.done) throw llmErrors.streamFailed(`Ollama at ${host} closed the stream without a final chunk.`);
    return last;
  }

  async function chatOnce(client: Ollama, scope: CallScope, model: string, messages: ChatMessage[], opts: LLMCallOptions): Promise<ChatResult> {
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
    const final = await consume(stream, scope, (chunk) => {
      const piece = chunk.message?.content ?? "";
      if (piece) {
        content += piece;
        opts.onToken?.(piece);
      }
      for (const call of chunk.message?.tool_calls ?? []) toolCalls.push({ name: call.function.name, arguments: call.function.arguments ?? {} });
    });
    return {
      content,
      model: final.model || model,
      ...(toolCalls.length ? { toolCalls } : {}),
      doneReason: toolCalls.length ? "tool_calls" : final.done_reason,
      usage: { promptTokens: final.prompt_eval_count, completionTokens: final.eval_count },
    };
  }

  async function generateOnce(client: Ollama, scope: CallScope, model: string, prompt: string, opts: LLMCallOptions): Promise<GenerateResult> {
    const stream = await client.generate({ model, prompt, stream: true, format: opts.format, options: modelOptions(opts) });
    let text = "";
    const final = await consume(stream, scope, (chunk) => {
      const piece = chunk.response ?? "";
      if (piece) {
        text += piece;
        opts.onToken?.(piece);
      }
    });
    return { text, model: final.model || model, doneReason: final.done_reason, usage: { promptTokens: final.prompt_eval_count, completionTokens: final.eval_count } };
  }

  return {
    provider: "ollama",

    async chat(messages, opts = {}) {
      const model = modelFor(opts.model);
      return call(opts, model, async (client, scope) => {
        if (!opts.format) return chatOnce(client, scope, model, messages, opts);
        return withStructuredRetry(opts.format, (r) => r.content, (retry) =>
          chatOnce(client, scope, model, retry ? [...messages, { role: "assistant", content: retry.previous }, { role: "user", content: retry.instruction }] : messages, opts),
        );
      });
    },

    async generate(prompt, opts = {}) {
      const model = modelFor(opts.model);
      return call(opts, model, async (client, scope) => {
        if (!opts.format) return generateOnce(client, scope, model, prompt, opts);
        return withStructuredRetry(opts.format, (r) => r.text, (retry) =>
          generateOnce(client, scope, model, retry ? `${prompt}\n\nYour previous answer:\n${retry.previous}\n\n${retry.instruction}` : prompt, opts),
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
            throw llmErrors.upstream(`Ollama returned ${res.embeddings?.length ?? 0} embeddings for ${batch.length} inputs.`);
          }
          vectors.push(...res.embeddings);
        }
        return vectors;
      });
    },

    listModels: () =>
      call({}, undefined, async (client) => {
        const { models } = await client.list();
        return models.map((m) => ({
          name: m.name,
          size: m.size,
          family: m.details?.family,
          parameterSize: m.details?.parameter_size,
          quantization: m.details?.quantization_level,
          modifiedAt: m.modified_at ? String(m.modified_at) : undefined,
        }));
      }),

    ps: () =>
      call({}, undefined, async (client) => {
        const { models } = await client.ps();
        return models.map((m) => ({
          name: m.name,
          size: m.size,
          sizeVram: m.size_vram,
          contextLength: (m as { context_length?: number }).context_length,
          expiresAt: m.expires_at ? String(m.expires_at) : undefined,
        }));
      }),

    pull: (model, opts = {}) =>
      call({ signal: opts.signal }, model, async (client, scope) => {
        const stream = await client.pull({ model, stream: true });
        try {
          for await (const p of stream) {
            const progress: PullProgress = { status: p.status };
            if (p.digest) progress.digest = p.digest;
            if (typeof p.total === "number") progress.total = p.total;
            if (typeof p.completed === "number") progress.completed = p.completed;
            opts.onProgress?.(progress);
          }
        } catch (err) {
          // Ollama reports an unknown name midway: "pull model manifest: file does not exist".
          if (!scope.signal.aborted && /does not exist|not found/i.test((err as Error).message ?? "")) throw llmErrors.pullNotFound(model, (err as Error).message, err);
          throw fromStreamFailure(err, { host, signal: scope.signal });
        } finally {
          stream.abort();
        }
      }),

    contextSize: async (requested) => {
      const model = modelFor(requested);
      return call({}, model, async (client) => {
        const loaded = (await client.ps()).models.find((m) => m.name === model || m.model === model) as { context_length?: number } | undefined;
        if (loaded?.context_length) return loaded.context_length;
        const info = (await client.show({ model })).model_info as unknown as Record<string, unknown> | undefined;
        const trained = Object.entries(info ?? {}).find(([k]) => k.endsWith(".context_length"))?.[1];
        return typeof trained === "number" ? Math.min(trained, OLLAMA_DEFAULT_NUM_CTX) : OLLAMA_DEFAULT_NUM_CTX;
      });
    },

    // Ollama has no tokenizer endpoint; over-counting is the safe side for "does it fit?".
    countTokens: async (text) => Math.ceil(text.length / 3),

    ping: () => call({ timeoutMs: 2000 }, undefined, async (client) => void (await client.version())),

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
  if (m.toolCalls?.length) out.tool_calls = m.toolCalls.map((c) => ({ function: { name: c.name, arguments: c.arguments } }));
  if (m.toolName) out.tool_name = m.toolName;
  return out;
}

function toOllamaTool(t: { name: string; description?: string; parameters?: Record<string, unknown> }): Tool {
  return { type: "function", function: { name: t.name, description: t.description, parameters: (t.parameters ?? { type: "object", properties: {} }) as Tool["function"]["parameters"] } };
}
