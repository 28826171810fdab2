import { statSync } from "node:fs";
import { basename, resolve } from "node:path";
import { AppError } from "../errors.ts";
import { type CallScope, guardOnToken, withCallScope } from "./call-scope.ts";
import { doneReason, toChatHistory, toFunctions } from "./embedded-history.ts";
import {
  type EmbeddedRuntime,
  type EmbeddedRuntimeOptions,
  loadEmbeddedRuntime,
} from "./embedded-runtime.ts";
import { createSerialQueue } from "./serial-queue.ts";
import { retryMessages, retryPrompt, type StructuredRetry, withStructuredRetry } from "./structured.ts";
import type { ChatMessage, ChatResult, GenerateResult, LLM, LLMCallOptions } from "./types.ts";

export type EmbeddedLLMOptions = EmbeddedRuntimeOptions;

/**
 * The `embedded` provider: node-llama-cpp running one GGUF model in this process, for boxes
 * without Ollama and for tests. The package and the model load on the first call (the node
 * starts without them); calls queue for the model's single context sequence, each starting
 * from a clean sequence so one call's tokens never leak into the next.
 *
 * The model answers every call: a function's manifest names Ollama tags, and an edge box
 * running embedded serves them all with its one GGUF (the result's `model` says which).
 * Naming a different .gguf file is refused with MODEL_NOT_FOUND instead of silently
 * answering with the wrong weights.
 *
 * @example
 *   const llm = createEmbeddedLLM({ modelPath: "/models/qwen2.5-0.5b-instruct-q4_k_m.gguf", threads: 1 });
 *   const { text } = await llm.generate("Once upon a time", { maxTokens: 32, temperature: 0 });
 */
export function createEmbeddedLLM(options: EmbeddedLLMOptions): LLM {
  const modelPath = resolve(options.modelPath);
  const name = basename(modelPath).replace(/\.gguf$/i, "");
  const queue = createSerialQueue();
  let loading: Promise<EmbeddedRuntime> | undefined;

  const runtime = (): Promise<EmbeddedRuntime> => {
    loading ??= loadEmbeddedRuntime({ ...options, modelPath }).catch((err: unknown) => {
      loading = undefined; // a later call may succeed once the operator fixed the cause
      throw err;
    });
    return loading;
  };

  const checkModel = (requested?: string): void => {
    if (
      !requested ||
      !/\.gguf$/i.test(requested) ||
      resolve(requested) === modelPath ||
      requested === basename(modelPath)
    )
      return;
    throw new AppError(
      404,
      "MODEL_NOT_FOUND",
      `The embedded provider serves only ${modelPath}, not "${requested}". Point SUTAZAI_LLM_MODEL at that file, or use Ollama to serve several models.`,
    );
  };

  /** One model call: its scope, its turn on the sequence, a clean start. */
  const exclusive = async <T>(
    opts: { signal?: AbortSignal; timeoutMs?: number; model?: string },
    fn: (rt: EmbeddedRuntime, scope: CallScope) => Promise<T>,
  ): Promise<T> => {
    checkModel(opts.model);
    return withCallScope(opts, (scope) =>
      queue.run(async () => {
        const rt = await runtime();
        await rt.sequence.clearHistory();
        return fn(rt, scope);
      }, scope.signal),
    );
  };

  async function chatOnce(
    rt: EmbeddedRuntime,
    scope: CallScope,
    messages: ChatMessage[],
    opts: LLMCallOptions,
  ): Promise<ChatResult> {
    const chat = new rt.mod.LlamaChat({ contextSequence: rt.sequence, autoDisposeSequence: false });
    let completionTokens = 0;
    try {
      const grammar = opts.format ? await rt.grammarFor(opts.format) : undefined;
      const functions = grammar ? undefined : toFunctions(opts.tools);
      const common = {
        onTextChunk: guardOnToken(scope, opts.onToken),
        onToken: (tokens: readonly unknown[]) => {
          completionTokens += tokens.length;
        },
        signal: scope.signal,
        maxTokens: opts.maxTokens,
        temperature: opts.temperature,
        seed: opts.seed,
        customStopTriggers: opts.stop,
      };
      const history = toChatHistory(messages);
      const res = functions
        ? await chat.generateResponse(history, { ...common, functions })
        : await chat.generateResponse(history, { ...common, grammar });
      const toolCalls = (res.functionCalls ?? []).map((c) => ({
        name: c.functionName,
        arguments: (c.params ?? {}) as Record<string, unknown>,
      }));
      return {
        content: res.response,
        model: name,
        ...(toolCalls.length ? { toolCalls } : {}),
        doneReason: doneReason(res.metadata.stopReason),
        usage: { completionTokens },
      };
    } finally {
      chat.dispose({ disposeSequence: false });
    }
  }

  async function generateOnce(
    rt: EmbeddedRuntime,
    scope: CallScope,
    prompt: string,
    opts: LLMCallOptions,
  ): Promise<GenerateResult> {
    const completion = new rt.mod.LlamaCompletion({
      contextSequence: rt.sequence,
      autoDisposeSequence: false,
    });
    let completionTokens = 0;
    try {
      const grammar = opts.format ? await rt.grammarFor(opts.format) : undefined;
      const res = await completion.generateCompletionWithMeta(prompt, {
        onTextChunk: guardOnToken(scope, opts.onToken),
        onToken: (tokens) => {
          completionTokens += tokens.length;
        },
        signal: scope.signal,
        maxTokens: opts.maxTokens,
        temperature: opts.temperature,
        seed: opts.seed,
        customStopTriggers: opts.stop,
        grammar,
      });
      return {
        text: res.response,
        model: name,
        doneReason: doneReason(res.metadata.stopReason),
        usage: { promptTokens: rt.model.tokenize(prompt).length, completionTokens },
      };
    } finally {
      completion.dispose({ disposeSequence: false });
    }
  }

  /**
   * One exclusive call, with `format`: validated, and re-asked once from a clean history
   * when the answer does not match (the grammar makes that rare, the check makes it safe).
   */
  function structured<R extends object>(
    opts: LLMCallOptions,
    text: (r: R) => string,
    once: (rt: EmbeddedRuntime, scope: CallScope, retry: StructuredRetry | null) => Promise<R>,
  ): Promise<R> {
    return exclusive(opts, async (rt, scope) => {
      if (!opts.format) return once(rt, scope, null);
      return withStructuredRetry(opts.format, text, async (retry) => {
        if (retry) await rt.sequence.clearHistory();
        return once(rt, scope, retry);
      });
    });
  }

  return {
    provider: "embedded",

    chat: (messages, opts = {}) =>
      structured(
        opts,
        (r) => r.content,
        (rt, scope, retry) => chatOnce(rt, scope, retryMessages(messages, retry), opts),
      ),

    generate: (prompt, opts = {}) =>
      structured(
        opts,
        (r) => r.text,
        (rt, scope, retry) => generateOnce(rt, scope, retryPrompt(prompt, retry), opts),
      ),

    embed: (input, opts = {}) =>
      exclusive(opts, async (rt, scope) => {
        if (input.length === 0) return [];
        const context = await rt.embedding();
        const vectors: number[][] = [];
        for (const text of input) {
          if (scope.signal.aborted) throw scope.signal.reason;
          // An empty text has no tokens to embed; its vector is all zeros, same length as the others.
          if (text === "") vectors.push([]);
          else vectors.push([...(await context.getEmbeddingFor(text)).vector]);
        }
        const dim = vectors.find((v) => v.length > 0)?.length ?? rt.model.embeddingVectorSize;
        return vectors.map((v) => (v.length ? v : new Array<number>(dim).fill(0)));
      }),

    listModels: async () => [{ name, size: fileSize(modelPath), family: "gguf" }],

    ps: async () => {
      if (!loading) return [];
      const rt = await loading.catch(() => undefined);
      return rt ? [{ name, size: rt.memoryBytes(), sizeVram: 0, contextLength: rt.context.contextSize }] : [];
    },

    pull: async () => {
      throw new AppError(
        400,
        "LLM_PULL_UNSUPPORTED",
        "The embedded provider loads a local GGUF file (SUTAZAI_LLM_MODEL); download models with Ollama, or fetch the GGUF yourself.",
      );
    },

    contextSize: async (model) => {
      checkModel(model);
      return (await runtime()).context.contextSize;
    },

    countTokens: async (text, model) => {
      checkModel(model);
      return (await runtime()).model.tokenize(text).length;
    },

    ping: async () => void (await runtime()),

    // Queued behind the calls already waiting, so disposal never pulls the model from under them.
    close: () =>
      queue.run(async () => {
        const current = loading;
        loading = undefined;
        const rt = await current?.catch(() => undefined);
        await rt?.dispose();
      }),
  };
}

function fileSize(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}
