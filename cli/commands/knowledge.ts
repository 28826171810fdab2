import { type FlagSpec, UsageError } from "../args.ts";
import { describeProblem, RemoteError } from "../http.ts";
import { waitForInvocation } from "./invoke-wait.ts";
import { failure, REMOTE_FLAGS, remoteClient } from "./remote.ts";
import type { Command } from "./types.ts";

const MODEL: FlagSpec = {
  name: "model",
  value: "<model>",
  help: "re-embed with this embedding model (default: the collection's)",
};

/**
 * `sutazai knowledge reindex <collection> [--model M]`: re-embeds a collection on a running
 * node as an async invocation (the node owns the model and the database) and follows its
 * progress — chunks embedded / total — on stderr until it finishes.
 */
export const knowledgeCommand: Command = {
  name: "knowledge",
  summary: "knowledge base maintenance: reindex a collection (re-embed, optionally with another model)",
  usage: "sutazai knowledge reindex <collection> [--model M] [--url http://127.0.0.1:8787] [--key K]",
  flags: [MODEL, ...REMOTE_FLAGS],
  details:
    "Searches keep using the old index until the new one is complete; ingests into the collection are refused meanwhile.",
  async run(args, env) {
    const [sub, collection, ...rest] = args.positionals;
    if (sub !== "reindex" || !collection || rest.length)
      throw new UsageError("Usage: sutazai knowledge reindex <collection> [--model M]");
    const client = remoteClient(args, env);
    const model = typeof args.flags.model === "string" ? args.flags.model : undefined;
    try {
      const res = await client.request("POST", "/v1/functions/knowledge/invoke?mode=async", {
        action: "reindex",
        collection,
        embeddingModel: model,
      });
      if (res.status >= 400) return fail(describeProblem(res.status, res.body));
      const { id } = res.body as { id: string };
      process.stderr.write(`reindexing ${collection} (invocation ${id})\n`);
      const done = await waitForInvocation(client, id, (line) => process.stderr.write(`${line}\n`));
      if (done.status !== "succeeded")
        return fail(
          `reindex ${done.status}${done.error ? `: ${done.error.code}: ${done.error.message}` : ""}`,
        );
      process.stdout.write(`${JSON.stringify(done.output, null, 2)}\n`);
      return 0;
    } catch (err) {
      if (err instanceof RemoteError) return fail(err.message);
      throw err;
    }
  },
};

const fail = failure("knowledge");
