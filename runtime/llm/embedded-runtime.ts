import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import type * as NodeLlamaCpp from "node-llama-cpp";
import { AppError } from "../errors.ts";
import { importPackage } from "../optional-package.ts";
import { llmErrors } from "./errors.ts";

/**
 * Loading node-llama-cpp and a GGUF model, lazily: the package is an optional dependency
 * (its native binaries are big and an edge box talking to Ollama never needs them), so it
 * is imported on the first embedded call, never at start-up.
 */
export type NodeLlamaCppModule = typeof NodeLlamaCpp;

export const NODE_LLAMA_CPP_INSTALL = "npm i -E node-llama-cpp@3.21.1";

export interface EmbeddedRuntimeOptions {
  modelPath: string;
  /** CPU threads; default: 1 on ≤ 2 cores (more threads fight each other there), else half the cores, at most 8 */
  threads?: number;
  /** context tokens; default: the model's training context, at most 4096 */
  contextSize?: number;
  /** how to import node-llama-cpp (tests swap it to simulate an absent package) */
  importModule?: () => Promise<NodeLlamaCppModule>;
}

export interface EmbeddedRuntime {
  mod: NodeLlamaCppModule;
  llama: NodeLlamaCpp.Llama;
  model: NodeLlamaCpp.LlamaModel;
  context: NodeLlamaCpp.LlamaContext;
  sequence: NodeLlamaCpp.LlamaContextSequence;
  threads: number;
  /** the embedding context, created on first use */
  embedding(): Promise<NodeLlamaCpp.LlamaEmbeddingContext>;
  /** a grammar that forces JSON matching the schema (cached per schema) */
  grammarFor(schema: Record<string, unknown>): Promise<NodeLlamaCpp.LlamaGrammar>;
  /** memory the model and its contexts hold, in bytes */
  memoryBytes(): number;
  dispose(): Promise<void>;
}

export function defaultThreads(cores = availableParallelism()): number {
  return cores <= 2 ? 1 : Math.min(8, Math.floor(cores / 2));
}

export async function importNodeLlamaCpp(
  importModule: () => Promise<NodeLlamaCppModule> = () => importPackage<NodeLlamaCppModule>("node-llama-cpp"),
): Promise<NodeLlamaCppModule> {
  try {
    return await importModule();
  } catch (err) {
    const missing =
      (err as { code?: string }).code === "ERR_MODULE_NOT_FOUND" &&
      /node-llama-cpp/.test(String((err as Error).message));
    if (missing) {
      throw llmErrors.unavailable(
        `The embedded LLM provider needs the node-llama-cpp package, which is not installed: install it with \`${NODE_LLAMA_CPP_INSTALL}\`, or use SUTAZAI_LLM_PROVIDER=ollama.`,
        err,
      );
    }
    throw llmErrors.unavailable(
      `node-llama-cpp could not be loaded (${(err as Error).message}); reinstall it with \`${NODE_LLAMA_CPP_INSTALL}\`.`,
      err,
    );
  }
}

export async function loadEmbeddedRuntime(opts: EmbeddedRuntimeOptions): Promise<EmbeddedRuntime> {
  if (!existsSync(opts.modelPath)) {
    throw llmErrors.unavailable(
      `The embedded model file ${opts.modelPath} does not exist; point SUTAZAI_LLM_MODEL at a GGUF file.`,
    );
  }
  const mod = await importNodeLlamaCpp(opts.importModule);
  const threads = opts.threads ?? defaultThreads();
  let llama: NodeLlamaCpp.Llama | undefined;
  try {
    // gpu:false + build:"never": use the prebuilt CPU binary, never compile at run time.
    llama = await mod.getLlama({
      gpu: false,
      build: "never",
      maxThreads: threads,
      logLevel: mod.LlamaLogLevel.error,
    });
    const model = await llama.loadModel({ modelPath: opts.modelPath });
    const contextSize = opts.contextSize ?? Math.min(model.trainContextSize, 4096);
    const context = await model.createContext({ contextSize, threads, sequences: 1 });
    const sequence = context.getSequence();
    const loaded = llama;
    let embedding: Promise<NodeLlamaCpp.LlamaEmbeddingContext> | undefined;
    const grammars = new Map<string, Promise<NodeLlamaCpp.LlamaGrammar>>();
    return {
      mod,
      llama: loaded,
      model,
      context,
      sequence,
      threads,
      embedding: () => {
        embedding ??= model.createEmbeddingContext({ contextSize, threads });
        return embedding;
      },
      grammarFor: (schema) => {
        const { $schema: _ignored, ...rest } = schema; // draft markers are not part of the GBNF subset
        const key = JSON.stringify(rest);
        let grammar = grammars.get(key);
        if (!grammar) {
          grammar = loaded
            .createGrammarForJsonSchema(
              rest as Parameters<NodeLlamaCpp.Llama["createGrammarForJsonSchema"]>[0],
            )
            .catch((err: unknown) => {
              grammars.delete(key);
              throw new AppError(
                400,
                "LLM_FORMAT_UNSUPPORTED",
                `The embedded model cannot be constrained to this JSON schema: ${(err as Error).message}`,
              );
            });
          grammars.set(key, grammar);
        }
        return grammar;
      },
      memoryBytes: () => model.size + safe(() => context.stateSize),
      dispose: async () => {
        await loaded.dispose(); // disposes models and contexts it created
      },
    };
  } catch (err) {
    await llama?.dispose().catch(() => {});
    if (err instanceof AppError) throw err;
    throw llmErrors.unavailable(
      `The embedded model ${opts.modelPath} could not be loaded: ${(err as Error).message}`,
      err,
    );
  }
}

function safe(read: () => number): number {
  try {
    return read();
  } catch {
    return 0;
  }
}
