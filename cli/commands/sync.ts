import type { SyncStatus as Status } from "../../sync/client.ts";
import type { NodeSummary } from "../../sync/protocol.ts";
import type { SyncRound as Round } from "../../sync/round.ts";
import { type FlagSpec, isOn, UsageError } from "../args.ts";
import { describeProblem, RemoteError } from "../http.ts";
import { failure, REMOTE_FLAGS, remoteClient } from "./remote.ts";
import type { Command } from "./types.ts";

const JSON_FLAG: FlagSpec = { name: "json", boolean: true, help: "print the node's JSON answer as is" };

const SUBCOMMANDS: Record<string, { method: string; path: string; render: (body: never) => string }> = {
  status: { method: "GET", path: "/v1/sync/status", render: renderStatus },
  now: { method: "POST", path: "/v1/sync/now", render: renderRound },
  nodes: { method: "GET", path: "/v1/nodes", render: renderNodes },
};

/**
 * `sutazai sync status|now|nodes`: what GET /v1/sync/status, POST /v1/sync/now (an edge)
 * and GET /v1/nodes (the server) answer, as readable lines (or the JSON with --json).
 */
export const syncCommand: Command = {
  name: "sync",
  summary: "an edge's sync status, one sync round now, or (on a server) every edge's state",
  usage: "sutazai sync status|now|nodes [--json] [--url http://127.0.0.1:8787] [--key K]",
  flags: [JSON_FLAG, ...REMOTE_FLAGS],
  details:
    "status: online?, pending outbox rows, last push/pull, lag, last error (an edge).\n" +
    "now: runs one full push + pull round and prints what moved (an edge).\n" +
    "nodes: every edge the server has heard from: last seen, pending, lag, schema version (a server: --url http://<server>:8788).\n" +
    "Exits 1 when the node cannot be reached or refuses, printing the problem's detail.",
  async run(args, env) {
    const [sub, ...rest] = args.positionals;
    const spec = sub === undefined ? undefined : SUBCOMMANDS[sub];
    if (!spec || rest.length) throw new UsageError(`Usage: ${syncCommand.usage}`);
    try {
      const res = await remoteClient(args, env).request(spec.method, spec.path);
      if (res.status >= 400) return fail(describeProblem(res.status, res.body));
      process.stdout.write(
        isOn(args.flags.json) ? `${JSON.stringify(res.body, null, 2)}\n` : spec.render(res.body as never),
      );
      return 0;
    } catch (err) {
      if (err instanceof RemoteError) return fail(err.message);
      throw err;
    }
  },
};

const fail = failure("sync");

/** "2026-11-27T14:52:11.928Z (3 s ago)", or "never". */
function when(iso: string | null, now = Date.now()): string {
  if (!iso) return "never";
  const s = Math.round((now - Date.parse(iso)) / 1000);
  const ago =
    s < 0
      ? `in ${-s} s`
      : s < 120
        ? `${s} s ago`
        : s < 7200
          ? `${Math.round(s / 60)} min ago`
          : `${Math.round(s / 3600)} h ago`;
  return `${iso} (${ago})`;
}

const lines = (rows: Array<[string, string]>) =>
  `${rows.map(([k, v]) => `${`${k}:`.padEnd(20)}${v}`).join("\n")}\n`;

function renderStatus(s: Status): string {
  const online =
    s.online === null ? "not tried yet" : s.online ? "yes" : "no (offline: changes wait in the outbox)";
  const lag =
    s.lag.changes === null
      ? "unknown"
      : `${s.lag.changes} change(s) to pull${s.lag.ms === null ? "" : `, last pull ${Math.round(s.lag.ms / 1000)} s ago`}`;
  return lines([
    ["site", s.siteId],
    ["server", s.serverUrl],
    ["online", online],
    ["pending outbox", `${s.pendingOutbox} change(s)`],
    ["last push", when(s.lastPushAt)],
    ["last pull", when(s.lastPullAt)],
    ["last success", when(s.lastSuccessAt)],
    ["lag", lag],
    ["last error", s.lastError ? `${s.lastError.code}: ${s.lastError.message} (${s.lastError.at})` : "none"],
    ...(s.consecutiveFailures > 0
      ? ([["failures in a row", `${s.consecutiveFailures}, next attempt ${when(s.nextAttemptAt)}`]] as Array<
          [string, string]
        >)
      : []),
  ]);
}

function renderRound(r: Round): string {
  return (
    `pushed ${r.pushed}, pulled ${r.pulled}, skipped ${r.skipped} (already on the server), ` +
    `quarantined ${r.quarantined}${r.rebootstrapped ? ", re-bootstrapped from a snapshot" : ""} in ${r.durationMs} ms\n`
  );
}

function renderNodes(body: { nodes: NodeSummary[] }): string {
  if (body.nodes.length === 0) return "no edge has synced with this server yet\n";
  return body.nodes
    .map(
      (n) =>
        `${n.site}\n${lines([
          ["last seen", when(n.lastSeenAt)],
          ["pending", `${n.pending} change(s) reported waiting on the edge`],
          [
            "lag",
            `${n.lag.changes} change(s) not pulled as of its last pull${n.lag.ms === null ? "" : ` (${Math.round(n.lag.ms / 1000)} s ago)`}`,
          ],
          ["schema version", String(n.schemaVersion ?? "unknown")],
          ["skew refusals", String(n.skewRejections)],
          ["quarantined", String(n.quarantined)],
          ["last error", n.lastError ?? "none"],
        ])
          .split("\n")
          .map((l) => (l ? `  ${l}` : l))
          .join("\n")}`,
    )
    .join("");
}
