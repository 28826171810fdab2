import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeOllama, startFakeOllama } from "./support/fake-ollama.ts";

/**
 * The fake Ollama, spoken to with plain fetch: it must answer as Ollama's API documents
 * (docs/api.md, docs.ollama.com/api/errors), so tests built on it mean something for a real
 * daemon. If one of these fails, fix the fake to match Ollama, never the other way round.
 */
let fake: FakeOllama;
beforeAll(async () => {
  fake = await startFakeOllama({ models: ["llama3.2:1b"], pullable: ["smollm2:135m"] });
});
afterAll(async () => {
  await fake.close();
});

const post = (path: string, body: unknown) =>
  fetch(`${fake.url}${path}`, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
const lines = async (res: Response) =>
  (await res.text())
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe("fake Ollama speaks Ollama's protocol", () => {
  it("streams by default: NDJSON chunks, then a final chunk with done_reason and the metrics", async () => {
    const res = await post("/api/generate", { model: "llama3.2:1b", prompt: "Why is the sky blue?" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-ndjson");
    const chunks = await lines(res);
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks.slice(0, -1))
      expect(c).toMatchObject({
        model: "llama3.2:1b",
        created_at: expect.any(String),
        response: expect.any(String),
        done: false,
      });
    expect(chunks.at(-1)).toMatchObject({
      response: "",
      done: true,
      done_reason: "stop",
      context: expect.any(Array),
      total_duration: expect.any(Number),
      load_duration: expect.any(Number),
      prompt_eval_count: expect.any(Number),
      prompt_eval_duration: expect.any(Number),
      eval_count: chunks.length - 1,
      eval_duration: expect.any(Number),
    });
  });

  it('"stream": false answers one JSON object with the whole response', async () => {
    const res = await post("/api/chat", {
      model: "llama3.2:1b",
      messages: [{ role: "user", content: "hi" }],
      stream: false,
    });
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const body = (await res.json()) as {
      message: { role: string; content: string };
      done: boolean;
      done_reason: string;
    };
    expect(body.message.role).toBe("assistant");
    expect(body.message.content.length).toBeGreaterThan(0);
    expect(body).toMatchObject({ done: true, done_reason: "stop" });
  });

  it("chat chunks carry message.content; the final chunk's message is empty", async () => {
    const chunks = await lines(
      await post("/api/chat", { model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }] }),
    );
    expect(chunks[0]).toMatchObject({
      message: { role: "assistant", content: expect.any(String) },
      done: false,
    });
    expect(chunks.at(-1)).toMatchObject({ message: { role: "assistant", content: "" }, done: true });
  });

  it("num_predict cuts the answer with done_reason length; an empty request only loads the model", async () => {
    const chunks = await lines(
      await post("/api/generate", { model: "llama3.2:1b", prompt: "hi", options: { num_predict: 2 } }),
    );
    expect(chunks).toHaveLength(3);
    expect(chunks.at(-1)?.done_reason).toBe("length");
    const load = await post("/api/chat", { model: "llama3.2:1b", messages: [] });
    expect(await load.json()).toMatchObject({ done: true, done_reason: "load" });
  });

  it("errors are {error} with Ollama's status codes", async () => {
    // (Go's JSON error wording is only approximated; the status and the {error} shape are exact.)
    const cases: Array<[string, unknown, number, string | RegExp]> = [
      [
        "/api/chat",
        { model: "nope", messages: [{ role: "user", content: "x" }] },
        404,
        'model "nope" not found, try pulling it first',
      ],
      ["/api/chat", { messages: [] }, 400, "model is required"],
      ["/api/generate", "", 400, "missing request body"],
      ["/api/generate", "not json", 400, /^invalid character/],
      ["/api/embed", { model: "llama3.2:1b", input: [1, 2] }, 400, "invalid input type"],
      ["/api/embed", { model: "nope", input: "x" }, 404, "model 'nope' not found"],
    ];
    for (const [path, body, status, error] of cases) {
      const res = await post(path, body);
      expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(status);
      expect(await res.json()).toEqual({
        error: typeof error === "string" ? error : expect.stringMatching(error),
      });
    }
    const unknown = await fetch(`${fake.url}/api/nothing`);
    expect([unknown.status, await unknown.text()]).toEqual([404, "404 page not found"]);
  });

  it("an error after the stream started is an {error} line under the 200 already sent", async () => {
    fake.script("llama3.2:1b", { content: "a b c d", failAfterTokens: 2, streamError: "boom" });
    const res = await post("/api/generate", { model: "llama3.2:1b", prompt: "x" });
    expect(res.status).toBe(200);
    const chunks = await lines(res);
    expect(chunks).toHaveLength(3);
    expect(chunks.at(-1)).toEqual({ error: "boom" });
  });

  it("embeds a string or a list into unit vectors, deterministic per text", async () => {
    const one = (await (await post("/api/embed", { model: "llama3.2:1b", input: "sky" })).json()) as {
      embeddings: number[][];
      model: string;
    };
    const many = (await (
      await post("/api/embed", { model: "llama3.2:1b", input: ["sky", "grass"] })
    ).json()) as { embeddings: number[][] };
    expect(one.embeddings).toHaveLength(1);
    expect(many.embeddings[0]).toEqual(one.embeddings[0]);
    const norm = Math.hypot(...(one.embeddings[0] ?? []));
    expect(norm).toBeCloseTo(1, 6);
  });

  it("lists models (/api/tags), loaded models (/api/ps), its version, and is running", async () => {
    const tags = (await (await fetch(`${fake.url}/api/tags`)).json()) as {
      models: Array<Record<string, unknown>>;
    };
    expect(tags.models[0]).toMatchObject({
      name: "llama3.2:1b",
      model: "llama3.2:1b",
      size: expect.any(Number),
      digest: expect.any(String),
      details: { format: "gguf", family: expect.any(String) },
    });
    const ps = (await (await fetch(`${fake.url}/api/ps`)).json()) as {
      models: Array<Record<string, unknown>>;
    };
    expect(ps.models[0]).toMatchObject({
      name: "llama3.2:1b",
      size_vram: expect.any(Number),
      expires_at: expect.any(String),
    });
    expect(await (await fetch(`${fake.url}/api/version`)).json()).toEqual({ version: expect.any(String) });
    expect(await (await fetch(`${fake.url}/`)).text()).toBe("Ollama is running");
  });

  it("pull streams progress statuses ending in success; an unknown name fails in the stream", async () => {
    const ok = await lines(await post("/api/pull", { model: "smollm2:135m" }));
    expect(ok[0]).toEqual({ status: "pulling manifest" });
    expect(
      ok.some(
        (p) =>
          typeof p.total === "number" &&
          typeof p.completed === "number" &&
          String(p.digest).startsWith("sha256:"),
      ),
    ).toBe(true);
    expect(ok.at(-1)).toEqual({ status: "success" });
    const bad = await lines(await post("/api/pull", { model: "no-such:1b" }));
    expect(bad.at(-1)).toEqual({ error: "pull model manifest: file does not exist" });
    const quiet = await post("/api/pull", { model: "smollm2:135m", stream: false });
    expect(await quiet.json()).toEqual({ status: "success" });
  });
});
