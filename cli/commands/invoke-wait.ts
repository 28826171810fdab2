import { describeProblem, type NodeClient, RemoteError } from "../http.ts";

export interface InvocationView {
  id: string;
  status: "queued" | "running" | "succeeded" | "failed" | "dead" | "cancelled";
  attempt: number;
  maxAttempts: number;
  output?: unknown;
  error: { code: string; message: string } | null;
  progress: Record<string, unknown> | null;
  durationMs: number | null;
}

const FINAL = new Set(["succeeded", "failed", "dead", "cancelled"]);

/**
 * Polls GET /v1/invocations/:id until the invocation finishes, reporting each change of
 * status, attempt or progress through `report`. Starts fast (short jobs answer quickly)
 * and backs off to once a second so a long job does not hammer the node.
 */
export async function waitForInvocation(
  client: NodeClient,
  id: string,
  report: (line: string) => void,
): Promise<InvocationView> {
  let delay = 50;
  let last = "";
  for (;;) {
    const res = await client.request("GET", `/v1/invocations/${encodeURIComponent(id)}`);
    if (res.status >= 400) throw new RemoteError(describeProblem(res.status, res.body));
    const inv = res.body as InvocationView;
    const line = statusLine(inv);
    if (line !== last) report(line);
    last = line;
    if (FINAL.has(inv.status)) return inv;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 1.5, 1000);
  }
}

function statusLine(inv: InvocationView): string {
  const attempt =
    inv.maxAttempts > 1 && inv.attempt > 0 ? ` (attempt ${inv.attempt}/${inv.maxAttempts})` : "";
  if (inv.status === "succeeded")
    return `succeeded${inv.durationMs !== null ? ` in ${inv.durationMs} ms` : ""}${attempt}`;
  const progress = inv.progress ? ` ${JSON.stringify(inv.progress)}` : "";
  return `${inv.status}${attempt}${progress}`;
}
