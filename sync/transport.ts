import type { z } from "@hono/zod-openapi";
import type { FieldError } from "../runtime/errors.ts";
import {
  ACKED_HEADER,
  NODE_HEADER,
  type PullResponse,
  type PushRequest,
  type PushResponse,
  PushResponseSchema,
  SCHEMA_HEADER,
  type SnapshotPage,
  SnapshotPageSchema,
} from "./protocol.ts";
import { checkPullResponse } from "./validate.ts";

type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

/** What the client sends requests with: `fetch`, or a test double that drops, duplicates or delays them. */
export type SyncFetch = (url: string, init: RequestInit) => Promise<Response>;

/** A failed exchange with the server. `network`: no answer at all (offline, timeout, refused). */
export class SyncTransportError extends Error {
  readonly network: boolean;
  readonly status?: number;
  readonly code?: string;
  /** PUSH_GAP: the server's acknowledged seq */
  readonly acked?: number;

  constructor(
    message: string,
    opts: { network: boolean; status?: number; code?: string; acked?: number; cause?: unknown },
  ) {
    super(message, { cause: opts.cause });
    this.name = "SyncTransportError";
    this.network = opts.network;
    this.status = opts.status;
    this.code = opts.code;
    this.acked = opts.acked;
  }
}

export interface SyncTransport {
  /** a batch, or its JSON text (the client builds it around the outbox JSON SQLite made) */
  push(batch: PushRequest | string): Promise<PushResponse>;
  pull(cursor: number, limit: number): Promise<PullResponse>;
  snapshot(after: string | null, limit: number): Promise<SnapshotPage>;
  /** Is the server reachable at all? (GET /healthz; cheap, used while offline) */
  probe(): Promise<boolean>;
}

export interface HttpTransportOptions {
  serverUrl: string;
  serverKey: string;
  siteId: string;
  schemaVersion: number;
  fetch?: SyncFetch;
  timeoutMs?: number;
}

/** The edge's side of the HTTP protocol in sync/protocol.ts. Every response is validated. */
export function httpTransport(opts: HttpTransportOptions): SyncTransport {
  const base = opts.serverUrl.replace(/\/+$/, "");
  const doFetch: SyncFetch = opts.fetch ?? ((url, init) => fetch(url, init));
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const headers = {
    authorization: `Bearer ${opts.serverKey}`,
    [NODE_HEADER]: opts.siteId,
    [SCHEMA_HEADER]: String(opts.schemaVersion),
  };

  const zod =
    <S extends z.ZodType>(schema: S) =>
    (body: unknown): Parsed<z.infer<S>> => {
      const r = schema.safeParse(body);
      return r.success ? { ok: true, value: r.data } : { ok: false, message: r.error.message };
    };
  const fast =
    <T>(check: (body: unknown) => { ok: true; value: T } | { ok: false; errors: FieldError[] }) =>
    (body: unknown): Parsed<T> => {
      const r = check(body);
      return r.ok ? r : { ok: false, message: r.errors.map((e) => `${e.path}: ${e.message}`).join("; ") };
    };

  async function call<T>(path: string, init: RequestInit, parse: (body: unknown) => Parsed<T>): Promise<T> {
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      throw new SyncTransportError(`Cannot reach the sync server at ${base}: ${(err as Error).message}`, {
        network: true,
        cause: err,
      });
    }
    const text = await res.text().catch(() => "");
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (!res.ok) {
      const problem = (body ?? {}) as { code?: string; detail?: string };
      const acked = res.headers.get(ACKED_HEADER);
      throw new SyncTransportError(
        `The sync server answered ${res.status} ${problem.code ?? ""}: ${problem.detail ?? text.slice(0, 300)}`.replace(
          "  ",
          " ",
        ),
        {
          network: false,
          status: res.status,
          code: problem.code,
          acked: acked === null ? undefined : Number(acked),
        },
      );
    }
    const parsed = parse(body);
    if (!parsed.ok) {
      throw new SyncTransportError(
        `The sync server sent an invalid ${path.split("?")[0]} response: ${parsed.message.slice(0, 300)}`,
        {
          network: false,
          status: res.status,
          code: "SYNC_BAD_RESPONSE",
        },
      );
    }
    return parsed.value;
  }

  return {
    push: (batch) =>
      call(
        "/v1/sync/push",
        {
          method: "POST",
          headers: { ...headers, "content-type": "application/json" },
          body: typeof batch === "string" ? batch : JSON.stringify(batch),
        },
        zod(PushResponseSchema),
      ),
    pull: (cursor, limit) =>
      call(
        `/v1/sync/pull?cursor=${cursor}&limit=${limit}&compact=1`,
        { method: "GET", headers },
        fast(checkPullResponse),
      ),
    snapshot: (after, limit) =>
      call(
        `/v1/sync/snapshot?limit=${limit}${after ? `&after=${encodeURIComponent(after)}` : ""}`,
        { method: "GET", headers },
        zod(SnapshotPageSchema),
      ),
    async probe() {
      try {
        const res = await doFetch(`${base}/healthz`, {
          method: "GET",
          signal: AbortSignal.timeout(Math.min(timeoutMs, 5000)),
        });
        await res.body?.cancel().catch(() => {});
        return res.ok;
      } catch {
        return false;
      }
    },
  };
}
