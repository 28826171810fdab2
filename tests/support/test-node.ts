import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builtinFunctions } from "../../functions/index.ts";
import { loadConfig, type NodeRole } from "../../runtime/config.ts";
import type { AnyFunction } from "../../runtime/function.ts";
import { silentLogger } from "../../runtime/log.ts";
import { createNode, type NodeOptions, type RuntimeNode } from "../../runtime/node.ts";
import { createLocalQueue } from "../../runtime/queue/local.ts";
import { testFunctions } from "./test-functions.ts";

export interface TestNode extends RuntimeNode {
  dataDir: string;
  /** the bootstrap admin secret from <data-dir>/admin.key */
  adminKey: string;
  /** a request through the app, as admin unless `init.headers` carries its own Authorization */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** a request with no credential at all */
  anonymous(path: string, init?: RequestInit): Promise<Response>;
  dispose(): Promise<void>;
}

/**
 * An in-process node on a temp data dir with the local queue, the built-in functions and
 * the misbehaving test functions. `request` goes through the real Hono app.
 */
export async function startTestNode(
  opts: Partial<Omit<NodeOptions, "config">> & {
    env?: Record<string, string>;
    role?: NodeRole;
    worker?: boolean;
    extraFunctions?: AnyFunction[];
    /** an existing data dir (kept on dispose) instead of a fresh temp one */
    dataDir?: string;
  } = {},
): Promise<TestNode> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "sutazai-test-"));
  const config = loadConfig(
    opts.role ?? "edge",
    { "data-dir": dataDir },
    { SUTAZAI_SHUTDOWN_GRACE_MS: "2000", ...opts.env },
  );
  const node = await createNode({
    log: silentLogger,
    functions: [...builtinFunctions, ...(testFunctions as AnyFunction[]), ...(opts.extraFunctions ?? [])],
    queue: (database) => createLocalQueue(database, { pollMs: 20 }),
    ...opts,
    config,
  });
  if (opts.worker !== false) node.startWorker();
  const adminKey = readFileSync(join(dataDir, "admin.key"), "utf8").trim();
  return {
    ...node,
    dataDir,
    adminKey,
    request: async (path, init = {}) => {
      const headers = new Headers(init.headers);
      if (!headers.has("authorization")) headers.set("authorization", `Bearer ${adminKey}`);
      return node.app.request(path, { ...init, headers });
    },
    anonymous: async (path, init) => node.app.request(path, init),
    async dispose() {
      await node.close();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const jsonPost = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: typeof body === "string" ? body : JSON.stringify(body),
});

/** Polls an invocation until it leaves queued/running. */
export async function waitForInvocation(
  node: TestNode,
  id: string,
  timeoutMs = 10_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await node.request(`/v1/invocations/${id}`);
    const body = (await res.json()) as Record<string, unknown>;
    if (!["queued", "running"].includes(body.status as string)) return body;
    if (Date.now() > deadline) throw new Error(`invocation ${id} still ${body.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
