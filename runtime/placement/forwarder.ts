import { type Principal, ROLES } from "../auth/principal.ts";
import type { Problem } from "../errors.ts";
import { AppError } from "../errors.ts";

export type Placement = "auto" | "local" | "server";
export const PLACEMENTS: Placement[] = ["auto", "local", "server"];

/** Header a server trusts only from a `node` credential: the caller the edge is acting for. */
export const ON_BEHALF_HEADER = "x-sutazai-on-behalf-of";

export interface ForwardResult {
  output: unknown;
  /** the invocation id on the server */
  remoteId: string;
}

/**
 * Sends invocations an edge places on its server. The edge authenticates with its `node`
 * key and names the original caller, so the server applies the caller's RBAC; the edge's
 * invocation id is the Idempotency-Key, so a retry after a lost answer never runs twice.
 */
export interface Forwarder {
  /** false when this node has no server to forward to */
  readonly configured: boolean;
  /** last known reachability of the server */
  online(): boolean;
  forward(
    fn: string,
    input: unknown,
    principal: Principal,
    invocationId: string,
    signal?: AbortSignal,
  ): Promise<ForwardResult>;
}

export function createForwarder(opts: {
  serverUrl?: string;
  serverKey?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}): Forwarder {
  const doFetch = opts.fetch ?? fetch;
  let reachable = true;
  return {
    configured: Boolean(opts.serverUrl && opts.serverKey),
    online: () => reachable,
    async forward(fn, input, principal, invocationId, signal) {
      if (!opts.serverUrl || !opts.serverKey) {
        throw new AppError(
          422,
          "NO_SERVER",
          "placement=server needs an edge started with --server-url and SUTAZAI_SERVER_KEY.",
        );
      }
      let res: Response;
      try {
        const timeout = AbortSignal.timeout(opts.timeoutMs ?? 120_000);
        res = await doFetch(`${opts.serverUrl}/v1/functions/${encodeURIComponent(fn)}/invoke`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${opts.serverKey}`,
            "content-type": "application/json",
            "idempotency-key": `fwd:${invocationId}`,
            [ON_BEHALF_HEADER]: JSON.stringify({
              id: principal.id,
              role: principal.role,
              functions: principal.functions,
            }),
          },
          body: JSON.stringify(input ?? {}),
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
      } catch (err) {
        if (signal?.aborted) throw err;
        reachable = false;
        throw new AppError(
          503,
          "SERVER_UNREACHABLE",
          `The server at ${opts.serverUrl} cannot be reached: ${(err as Error).message}`,
        );
      }
      reachable = true;
      const body = (await res.json().catch(() => ({}))) as {
        id?: string;
        output?: unknown;
      } & Partial<Problem>;
      if (!res.ok) {
        throw new AppError(
          res.status,
          body.code ?? "SERVER_ERROR",
          `The server answered: ${body.detail ?? res.statusText}`,
          {
            errors: body.errors,
          },
        );
      }
      return { output: body.output, remoteId: body.id ?? "" };
    },
  };
}

/**
 * On a server: the principal a forwarded request runs as. Only a `node` credential may
 * speak for someone else; anything else sending the header is refused.
 */
export function principalOnBehalf(caller: Principal, header: string | undefined): Principal {
  if (header === undefined) return caller;
  if (caller.role !== "node") {
    throw new AppError(
      403,
      "FORBIDDEN",
      `Only a node credential may invoke on behalf of someone (${ON_BEHALF_HEADER}).`,
    );
  }
  let asserted: { id?: unknown; role?: unknown; functions?: unknown };
  try {
    asserted = JSON.parse(header);
  } catch {
    throw new AppError(400, "ON_BEHALF_INVALID", `${ON_BEHALF_HEADER} must be JSON {id, role}.`);
  }
  // Any role but `node`: an edge speaks for its callers, never for another edge.
  const role = ROLES.find((r) => r === asserted.role && r !== "node");
  if (typeof asserted.id !== "string" || role === undefined) {
    throw new AppError(
      400,
      "ON_BEHALF_INVALID",
      `${ON_BEHALF_HEADER} must name an id and a role other than node.`,
    );
  }
  const functions = Array.isArray(asserted.functions)
    ? asserted.functions.filter((f) => typeof f === "string")
    : undefined;
  return {
    id: `${caller.id}/${asserted.id.slice(0, 100)}`,
    role,
    functions,
    via: caller.via,
  };
}
