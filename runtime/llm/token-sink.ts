import type { LLM, LLMCallOptions } from "./types.ts";

/**
 * The LLM a function sees when its caller asked for a stream: every token any call
 * generates also goes to `sink` (the SSE response), without the function doing anything.
 */
export function withTokenSink(llm: LLM, sink: (token: string) => void): LLM {
  const tee = (opts?: LLMCallOptions): LLMCallOptions => ({
    ...opts,
    onToken: (token) => {
      opts?.onToken?.(token);
      sink(token);
    },
  });
  return {
    provider: llm.provider,
    chat: (messages, opts) => llm.chat(messages, tee(opts)),
    generate: (prompt, opts) => llm.generate(prompt, tee(opts)),
    embed: (input, opts) => llm.embed(input, opts),
    listModels: () => llm.listModels(),
    ps: () => llm.ps(),
    pull: (model, opts) => llm.pull(model, opts),
    contextSize: (model) => llm.contextSize(model),
    countTokens: (text, model) => llm.countTokens(text, model),
    ping: () => llm.ping(),
    close: () => llm.close(),
  };
}
