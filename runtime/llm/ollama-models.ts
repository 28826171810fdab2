import { llmErrors } from "./errors.ts";
import type { OllamaCaller } from "./ollama-call.ts";
import { fromStreamFailure } from "./ollama-errors.ts";
import type { LLM, PullProgress } from "./types.ts";

/** Ollama's num_ctx when a request does not set one (what a model gets until it is loaded). */
const OLLAMA_DEFAULT_NUM_CTX = 4096;

/** The model-management half of the ollama provider: /api/tags, /api/ps, /api/pull, /api/show. */
export function ollamaModelOps(
  { call, host }: OllamaCaller,
  modelFor: (requested?: string) => string,
): Pick<LLM, "listModels" | "ps" | "pull" | "contextSize" | "ping"> {
  return {
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
          // newer Ollama reports the context the model was loaded with; the client's types lag
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
          const message = err instanceof Error ? err.message : String(err);
          if (!scope.signal.aborted && /does not exist|not found/i.test(message)) {
            throw llmErrors.pullNotFound(model, message, err);
          }
          throw fromStreamFailure(err, { host, signal: scope.signal });
        } finally {
          stream.abort();
        }
      }),

    contextSize: async (requested) => {
      const model = modelFor(requested);
      return call({}, model, async (client) => {
        const loaded = (await client.ps()).models.find((m) => m.name === model || m.model === model) as
          | { context_length?: number }
          | undefined;
        if (loaded?.context_length) return loaded.context_length;
        const info = (await client.show({ model })).model_info as unknown as
          | Record<string, unknown>
          | undefined;
        const trained = Object.entries(info ?? {}).find(([k]) => k.endsWith(".context_length"))?.[1];
        return typeof trained === "number"
          ? Math.min(trained, OLLAMA_DEFAULT_NUM_CTX)
          : OLLAMA_DEFAULT_NUM_CTX;
      });
    },

    ping: () => call({ timeoutMs: 2000 }, undefined, async (client) => void (await client.version())),
  };
}
