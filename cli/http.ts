/** HTTP calls from the CLI to a running node, with errors a user can act on. */

/** The request failed in a way the CLI reports and exits 1 for; the message is the whole story. */
export class RemoteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RemoteError";
  }
}

export interface NodeClient {
  baseUrl: string;
  request(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; headers: Headers; body: unknown }>;
}

export function nodeClient(baseUrl: string, key?: string): NodeClient {
  const base = baseUrl.replace(/\/+$/, "");
  if (!/^https?:\/\/[^\s/]+/.test(base)) {
    throw new RemoteError(
      `--url / SUTAZAI_URL must be an http(s) URL such as http://127.0.0.1:8787, not "${baseUrl}".`,
    );
  }
  return {
    baseUrl: base,
    async request(method, path, body, extra = {}) {
      const headers: Record<string, string> = { accept: "application/json", ...extra };
      if (body !== undefined) headers["content-type"] = "application/json";
      if (key) headers.authorization = `Bearer ${key}`;
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (err) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        const why = cause?.code ?? cause?.message ?? (err as Error).message;
        throw new RemoteError(
          `Cannot reach a SutazAI node at ${base} (${why}). Is \`sutazai edge\` or \`sutazai server\` running there? Point --url / SUTAZAI_URL at it.`,
        );
      }
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // Not JSON (a proxy's error page, say): keep the text for the message.
      }
      return { status: res.status, headers: res.headers, body: parsed };
    },
  };
}

/** Renders an application/problem+json body (or whatever came back) as a few readable lines. */
export function describeProblem(status: number, body: unknown): string {
  if (body && typeof body === "object" && "detail" in body) {
    const p = body as {
      title?: string;
      code?: string;
      detail?: string;
      errors?: Array<{ path: string; message: string }>;
    };
    const lines = [`${status} ${p.title ?? ""}${p.code ? ` (${p.code})` : ""}: ${p.detail}`];
    for (const e of p.errors ?? []) lines.push(`  ${e.path}: ${e.message}`);
    if (status === 401) lines.push("  Pass an API key with --key or SUTAZAI_API_KEY.");
    return lines.join("\n");
  }
  const text = typeof body === "string" ? body.slice(0, 500) : JSON.stringify(body ?? null).slice(0, 500);
  return `HTTP ${status}: ${text}`;
}
