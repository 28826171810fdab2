import type { AbortableAsyncIterator, Ollama } from "ollama";
import { importPackage } from "../optional-package.ts";
import { type CallScope, withCallScope } from "./call-scope.ts";
import { llmErrors } from "./errors.ts";
import { fromOllamaResponse, fromStreamFailure, ollamaFetch } from "./ollama-errors.ts";

/**
 * How every Ollama request is made: inside a call scope (signal + timeout), with a fresh
 * `ollama` client whose fetch carries that scope's signal, and with the client's errors
 * translated to ours. Streams are read to their `done` chunk by `consume`.
 */
export interface OllamaCaller {
  readonly host: string;
  call<T>(
    opts: { signal?: AbortSignal; timeoutMs?: number },
    model: string | undefined,
    fn: (client: Ollama, scope: CallScope) => Promise<T>,
  ): Promise<T>;
  consume<C extends { done?: boolean }>(
    stream: AbortableAsyncIterator<C>,
    scope: CallScope,
    onChunk: (chunk: C) => void,
  ): Promise<C>;
}

export function createOllamaCaller(host: string, baseFetch?: typeof fetch): OllamaCaller {
  return {
    host,
    call: (opts, model, fn) =>
      withCallScope(opts, async (scope) => {
        // A client per call is cheap (it is a config object) and binds this call's signal.
        // The package loads on the first call, so a node without Ollama never pays for it.
        const { Ollama: OllamaClient } = await importPackage<typeof import("ollama")>("ollama");
        const client = new OllamaClient({ host, fetch: ollamaFetch(host, scope.signal, baseFetch) });
        try {
          return await fn(client, scope);
        } catch (err) {
          throw fromOllamaResponse(err, { host, model });
        }
      }),

    async consume(stream, scope, onChunk) {
      type C = Parameters<typeof onChunk>[0];
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
          if (step.done || scope.signal.aborted) break;
          last = step.value;
          onChunk(step.value);
          if (step.value.done) break;
        }
      } finally {
        if (!last?.done) stream.abort(); // close the connection so Ollama stops generating
      }
      if (!last?.done)
        throw llmErrors.streamFailed(`Ollama at ${host} closed the stream without a final chunk.`);
      return last;
    },
  };
}
