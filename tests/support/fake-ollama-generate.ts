import type { ServerResponse } from "node:http";
import type { FakeState } from "./fake-ollama.ts";
import {
  canonicalName,
  defaultText,
  type ScriptedAnswer,
  sampleFromSchema,
  splitTokens,
} from "./fake-ollama-content.ts";
import { ns, sendError, sendJson, sleep } from "./fake-ollama-routes.ts";

/**
 * POST /api/chat and /api/generate, as Ollama's ChatHandler and GenerateHandler answer:
 * validation, the load/unload requests, then the answer (scripted, or made up from the
 * request) either streamed as NDJSON chunks plus a final chunk, or gathered into one
 * JSON object when `"stream": false`.
 */
const now = () => new Date().toISOString();

export async function handleChatOrGenerate(
  state: FakeState,
  endpoint: "chat" | "generate",
  body: Record<string, unknown>,
  res: ServerResponse,
): Promise<void> {
  const started = performance.now();
  const requested = typeof body.model === "string" ? body.model : "";
  if (!requested) {
    // Ollama: chat says "model is required"; generate reports the empty name as not found.
    return endpoint === "chat"
      ? sendError(res, 400, "model is required")
      : sendError(res, 404, "model '' not found");
  }
  const model = state.models.get(canonicalName(requested));
  if (!model) return sendError(res, 404, `model "${requested}" not found, try pulling it first`);
  if (endpoint === "chat" && body.messages !== undefined && !Array.isArray(body.messages)) {
    return sendError(
      res,
      400,
      "json: cannot unmarshal messages into Go struct field ChatRequest.messages of type []api.Message",
    );
  }
  const messages = (body.messages ?? []) as Array<{ role?: string; content?: string }>;
  const prompt =
    endpoint === "chat"
      ? (messages.filter((m) => m.role === "user").at(-1)?.content ?? "")
      : String(body.prompt ?? "");
  const nothingToSay = endpoint === "chat" ? messages.length === 0 : prompt === "";
  const unload = body.keep_alive === 0 || body.keep_alive === "0";
  if (nothingToSay) {
    // An empty request loads (or with keep_alive 0 unloads) the model; always one JSON object.
    if (unload) state.loaded.delete(model.name);
    else state.loaded.set(model.name, Date.now());
    const base = { model: requested, created_at: now(), done: true, done_reason: unload ? "unload" : "load" };
    return sendJson(
      res,
      200,
      endpoint === "chat"
        ? { ...base, message: { role: "assistant", content: "" } }
        : { ...base, response: "" },
    );
  }
  const answer: ScriptedAnswer =
    state.scripts.get(model.name)?.shift() ?? state.responders.get(model.name)?.({ endpoint, body }) ?? {};
  if (answer.error) return sendError(res, answer.error.status, answer.error.message);
  state.loaded.set(model.name, Date.now());

  const format = body.format;
  const content =
    answer.content ??
    (format === "json"
      ? "{}"
      : format && typeof format === "object"
        ? JSON.stringify(sampleFromSchema(format))
        : defaultText(prompt));
  let pieces = answer.tokens ?? splitTokens(content);
  let doneReason = "stop";
  const numPredict = (body.options as { num_predict?: unknown } | undefined)?.num_predict;
  if (typeof numPredict === "number" && numPredict >= 0 && pieces.length > numPredict) {
    pieces = pieces.slice(0, numPredict);
    doneReason = "length";
  }
  const toolCalls =
    endpoint === "chat"
      ? (answer.toolCalls ?? []).map((c, index) => ({
          id: `call_${index}${model.digest.slice(0, 7)}`,
          function: { index, name: c.name, arguments: c.arguments },
        }))
      : [];
  const delay = answer.tokenDelayMs ?? state.tokenDelayMs;
  const promptTokens = splitTokens(
    endpoint === "chat" ? messages.map((m) => m.content ?? "").join(" ") : prompt,
  ).length;
  const chunk = (text: string, extra: Record<string, unknown> = {}) =>
    endpoint === "chat"
      ? {
          model: requested,
          created_at: now(),
          message: { role: "assistant", content: text, ...extra },
          done: false,
        }
      : { model: requested, created_at: now(), response: text, ...extra, done: false };
  const final = () => {
    const metrics = {
      total_duration: ns(started),
      load_duration: 1_000_000,
      prompt_eval_count: promptTokens,
      prompt_eval_duration: 2_000_000,
      eval_count: pieces.length,
      eval_duration: ns(started),
    };
    return endpoint === "chat"
      ? {
          model: requested,
          created_at: now(),
          message: { role: "assistant", content: "" },
          done: true,
          done_reason: doneReason,
          ...metrics,
        }
      : {
          model: requested,
          created_at: now(),
          response: "",
          done: true,
          done_reason: doneReason,
          context: Array.from({ length: promptTokens + pieces.length }, (_, i) => i + 1),
          ...metrics,
        };
  };

  let gone = false;
  res.on("close", () => {
    if (!res.writableFinished) gone = true;
  });
  if (answer.startDelayMs) await sleep(answer.startDelayMs);

  if (body.stream === false) {
    // Ollama gathers the same chunks and answers once; a failure becomes a 500 {error}.
    for (const _ of pieces) if (delay) await sleep(delay);
    if (gone) return;
    if (answer.dropAfterTokens !== undefined) return void res.destroy();
    if (answer.failAfterTokens !== undefined)
      return sendError(res, 500, answer.streamError ?? "an error was encountered while running the model");
    const full = final();
    const text = pieces.join("");
    const tools = toolCalls.length ? { tool_calls: toolCalls } : {};
    const thinking = answer.thinking ? { thinking: answer.thinking } : {};
    return sendJson(
      res,
      200,
      endpoint === "chat"
        ? { ...full, message: { role: "assistant", content: text, ...thinking, ...tools } }
        : { ...full, response: text, ...thinking },
    );
  }

  res.writeHead(200, { "Content-Type": "application/x-ndjson" });
  const write = (obj: unknown) => res.write(`${JSON.stringify(obj)}\n`);
  if (answer.thinking)
    write(
      endpoint === "chat"
        ? chunk("", { thinking: answer.thinking })
        : { ...chunk(""), thinking: answer.thinking },
    );
  for (let i = 0; i < pieces.length; i++) {
    if (answer.failAfterTokens === i) {
      write({ error: answer.streamError ?? "an error was encountered while running the model" });
      return void res.end();
    }
    if (answer.dropAfterTokens === i) {
      await new Promise((flushed) => res.write("", flushed)); // what was sent reaches the client first
      return void res.socket?.destroy();
    }
    if (delay) await sleep(delay);
    if (gone) return;
    write(chunk(pieces[i] ?? ""));
  }
  if (answer.failAfterTokens !== undefined && answer.failAfterTokens >= pieces.length) {
    write({ error: answer.streamError ?? "an error was encountered while running the model" });
    return void res.end();
  }
  if (toolCalls.length) write(chunk("", { tool_calls: toolCalls }));
  write(final());
  res.end();
}
