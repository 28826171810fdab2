import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { canonicalName, type FakeModel, fakeModel, type ScriptedAnswer } from "./fake-ollama-content.ts";
import { handleChatOrGenerate } from "./fake-ollama-generate.ts";
import {
  handleEmbed,
  handlePull,
  handleShow,
  modelEntry,
  sendError,
  sendJson,
} from "./fake-ollama-routes.ts";

export type { ScriptedAnswer } from "./fake-ollama-content.ts";

/**
 * A protocol-faithful Ollama on 127.0.0.1, written from Ollama's API docs (docs/api.md,
 * docs.ollama.com/api/errors) and its server's handlers, not from what our client expects:
 * `stream` defaults to true (NDJSON, application/x-ndjson, a final chunk with `done: true`,
 * `done_reason` and nanosecond durations), `stream: false` answers one JSON object, errors
 * are `{"error": "…"}` with Ollama's status codes, and an error after the stream started is
 * an `{"error"}` line under the 200 already sent.
 *
 * Tests script answers per model (`script`), or a function (`respond`), and read what was
 * asked (`requests`).
 *
 * @example
 *   const ollama = await startFakeOllama({ models: ["llama3.2:1b"] });
 *   ollama.script("llama3.2:1b", { content: '{"steps":[]}' });
 *   const llm = createOllamaLLM({ host: ollama.url, model: "llama3.2:1b" });
 */
export interface FakeOllama {
  readonly url: string;
  /** every request, in order: method, path and parsed JSON body */
  readonly requests: RecordedRequest[];
  /** queue answers for the model's next /api/chat or /api/generate calls */
  script(model: string, ...answers: ScriptedAnswer[]): void;
  /** answers computed from the request when the script queue is empty */
  respond(model: string, responder: Responder): void;
  /** the next request to `path` (e.g. "/api/embed", "/api/tags") fails with this status and message */
  failNext(path: string, status: number, message: string): void;
  addModel(model: string | (Partial<FakeModel> & { name: string })): void;
  removeModel(name: string): void;
  /** models /api/ps reports as loaded (the ones used since start) */
  loaded(): string[];
  /** requests answered while a client still held the connection open (for disconnect tests) */
  inFlight(): number;
  close(): Promise<void>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  body: Record<string, unknown> | undefined;
}

export type Responder = (request: {
  endpoint: "chat" | "generate";
  body: Record<string, unknown>;
}) => ScriptedAnswer | undefined;

export interface FakeOllamaOptions {
  /** models /api/tags lists; default ["llama3.2:1b"] */
  models?: Array<string | (Partial<FakeModel> & { name: string })>;
  /** models /api/pull can download (added to /api/tags when pulled) */
  pullable?: string[];
  /** a delay before every streamed piece, unless the answer sets its own */
  tokenDelayMs?: number;
  version?: string;
}

export interface FakeState {
  models: Map<string, FakeModel>;
  loaded: Map<string, number>;
  scripts: Map<string, ScriptedAnswer[]>;
  responders: Map<string, Responder>;
  pullable: Set<string>;
  tokenDelayMs: number;
}

export async function startFakeOllama(options: FakeOllamaOptions = {}): Promise<FakeOllama> {
  const state: FakeState = {
    models: new Map((options.models ?? ["llama3.2:1b"]).map((m) => fakeModel(m)).map((m) => [m.name, m])),
    loaded: new Map(),
    scripts: new Map(),
    responders: new Map(),
    pullable: new Set((options.pullable ?? []).map(canonicalName)),
    tokenDelayMs: options.tokenDelayMs ?? 0,
  };
  const requests: RecordedRequest[] = [];
  const failures = new Map<string, Array<{ status: number; message: string }>>();
  let open = 0;

  const server = createServer(async (req, res) => {
    open++;
    res.on("close", () => open--);
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const raw = req.method === "POST" || req.method === "DELETE" ? await readBody(req) : "";
    const parsed = parseBody(raw);
    requests.push({ method: req.method ?? "GET", path, body: parsed.ok ? parsed.value : undefined });
    const failure = failures.get(path)?.shift();
    if (failure) return sendError(res, failure.status, failure.message);
    try {
      await route(req.method ?? "GET", path, raw, parsed, res);
    } catch (err) {
      if (!res.headersSent) sendError(res, 500, (err as Error).message);
      else res.destroy();
    }
  });

  async function route(
    method: string,
    path: string,
    raw: string,
    parsed: ParsedBody,
    res: ServerResponse,
  ): Promise<void> {
    const routes: Record<string, string[]> = {
      "/": ["GET", "HEAD"],
      "/api/version": ["GET", "HEAD"],
      "/api/tags": ["GET", "HEAD"],
      "/api/ps": ["GET"],
      "/api/show": ["POST"],
      "/api/chat": ["POST"],
      "/api/generate": ["POST"],
      "/api/embed": ["POST"],
      "/api/pull": ["POST"],
    };
    const allowed = routes[path];
    // gin's plain-text answers for unknown routes and wrong methods
    if (!allowed) return sendText(res, 404, "404 page not found");
    if (!allowed.includes(method)) return sendText(res, 405, "405 method not allowed");
    if (path === "/") return sendText(res, 200, "Ollama is running");
    if (path === "/api/version") return sendJson(res, 200, { version: options.version ?? "0.12.6" });
    if (path === "/api/tags")
      return sendJson(res, 200, { models: [...state.models.values()].map((m) => modelEntry(m)) });
    if (path === "/api/ps") {
      const models = [...state.loaded.keys()].flatMap((name) => {
        const m = state.models.get(name);
        return m
          ? [
              {
                ...modelEntry(m),
                expires_at: new Date(Date.now() + 300_000).toISOString(),
                size_vram: 0,
                context_length: m.contextLength,
              },
            ]
          : [];
      });
      return sendJson(res, 200, { models });
    }
    // Every POST endpoint binds a JSON body first: gin's errors for none or a broken one.
    if (raw.trim() === "") return sendError(res, 400, "missing request body");
    if (!parsed.ok) return sendError(res, 400, parsed.error);
    const body = parsed.value;
    if (path === "/api/show") return handleShow(state, body, res);
    if (path === "/api/embed") return handleEmbed(state, body, res);
    if (path === "/api/pull") return handlePull(state, body, res);
    return handleChatOrGenerate(state, path === "/api/chat" ? "chat" : "generate", body, res);
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script: (model, ...answers) => {
      const name = canonicalName(model);
      state.scripts.set(name, [...(state.scripts.get(name) ?? []), ...answers]);
    },
    respond: (model, responder) => void state.responders.set(canonicalName(model), responder),
    failNext: (path, status, message) =>
      void failures.set(path, [...(failures.get(path) ?? []), { status, message }]),
    addModel: (model) => {
      const m = fakeModel(model);
      state.models.set(m.name, m);
    },
    removeModel: (name) => {
      state.models.delete(canonicalName(name));
      state.loaded.delete(canonicalName(name));
    },
    loaded: () => [...state.loaded.keys()],
    inFlight: () => open,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type ParsedBody = { ok: true; value: Record<string, unknown> } | { ok: false; error: string };

function parseBody(raw: string): ParsedBody {
  if (raw.trim() === "") return { ok: false, error: "missing request body" };
  try {
    const value: unknown = JSON.parse(raw);
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return {
        ok: false,
        error: `json: cannot unmarshal ${Array.isArray(value) ? "array" : typeof value} into Go value of type api.Request`,
      };
    }
    return { ok: true, value: value as Record<string, unknown> };
  } catch (err) {
    // Go's encoding/json names the offending character (its exact wording varies by context).
    const ch = /token '(.)'/.exec((err as Error).message)?.[1] ?? raw.trim()[0] ?? "";
    return { ok: false, error: `invalid character '${ch}' looking for beginning of value` };
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8" }).end(text);
}
