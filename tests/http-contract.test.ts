import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonPost, startTestNode, type TestNode, waitForInvocation } from "./support/test-node.ts";

let node: TestNode;
beforeAll(async () => {
  node = await startTestNode();
});
afterAll(async () => {
  await node.dispose();
});

async function problemOf(res: Response) {
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  const body = (await res.json()) as { status: number; code: string; detail: string; errors?: unknown[] };
  expect(body.status).toBe(res.status);
  expect(body.detail.length).toBeGreaterThan(0);
  return body;
}

describe("platform endpoints", () => {
  it("/healthz answers ok", async () => {
    const res = await node.request("/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("/readyz reports a check per dependency and is ready without an LLM", async () => {
    const res = await node.request("/readyz");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; checks: Record<string, { status: string }> };
    expect(body.status).toBe("ready");
    expect(body.checks.db?.status).toBe("ok");
    expect(body.checks.queue?.status).toBe("ok");
    expect(body.checks.llm).toBeDefined();
  });

  it("/v1/functions lists the catalogue with JSON schemas", async () => {
    const res = await node.request("/v1/functions");
    const body = (await res.json()) as { functions: Array<{ name: string; input: { type?: string } }> };
    const echo = body.functions.find((f) => f.name === "echo");
    expect(echo?.input.type).toBe("object");
  });

  it("/openapi.json describes the invoke route and /docs is self-contained", async () => {
    const doc = (await (await node.request("/openapi.json")).json()) as {
      paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string }> }>>;
    };
    expect(Object.keys(doc.paths)).toContain("/v1/functions/{name}/invoke");
    const invoke = doc.paths["/v1/functions/{name}/invoke"]!.post!;
    expect(invoke.parameters!.map((p) => `${p.in}:${p.name}`).sort()).toEqual([
      "header:idempotency-key",
      "path:name",
      "query:mode",
      "query:placement",
    ]);
    expect(Object.keys(doc.paths)).toContain("/v1/invocations/{id}");
    const html = await (await node.request("/docs")).text();
    expect(html).toContain("/openapi.json");
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href="https?:/);
  });

  it("/metrics counts invocations by function and status and shows queue depth", async () => {
    await node.request("/v1/functions/echo/invoke", jsonPost({ message: "m" }));
    const text = await (await node.request("/metrics")).text();
    expect(text).toMatch(/sutazai_invocations_total\{function="echo",status="succeeded"\} \d+/);
    expect(text).toContain("sutazai_invocation_duration_seconds_bucket");
    expect(text).toMatch(/sutazai_queue_jobs\{state="waiting"\} \d+/);
  });
});

describe("sync invoke", () => {
  it("returns the output and records the invocation", async () => {
    const res = await node.request("/v1/functions/echo/invoke", jsonPost({ message: "hello" }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { id: string; output: { message: string } };
    expect(body.output.message).toBe("hello");
    expect(res.headers.get("x-invocation-id")).toBe(body.id);
    const row = (await (await node.request(`/v1/invocations/${body.id}`)).json()) as Record<string, unknown>;
    expect(row).toMatchObject({
      function: "echo",
      trigger: "http",
      status: "succeeded",
      output: { message: "hello" },
    });
    expect(typeof row.durationMs).toBe("number");
  });

  it("Idempotency-Key returns the first result instead of running twice", async () => {
    const key = `k-${Math.random()}`;
    const first = await node.request(
      "/v1/functions/flaky/invoke",
      jsonPost({ key, succeedOnCall: 1 }, { "Idempotency-Key": key }),
    );
    const second = await node.request(
      "/v1/functions/flaky/invoke",
      jsonPost({ key, succeedOnCall: 1 }, { "Idempotency-Key": key }),
    );
    const a = (await first.json()) as { id: string; output: { calls: number } };
    const b = (await second.json()) as { id: string; output: { calls: number }; replayed: boolean };
    expect(b.id).toBe(a.id);
    expect(b.output.calls).toBe(1);
    expect(b.replayed).toBe(true);
  });

  it("a function can call another through ctx.invoke", async () => {
    const res = await node.request("/v1/functions/caller/invoke", jsonPost({ message: "nested" }));
    const body = (await res.json()) as { output: { echoed: { message: string } } };
    expect(body.output.echoed.message).toBe("nested");
    const list = (await (await node.request("/v1/invocations?function=echo")).json()) as {
      invocations: Array<{ trigger: string }>;
    };
    expect(list.invocations.some((i) => i.trigger === "function")).toBe(true);
  });
});

describe("bad input never produces a 500", () => {
  const cases: Array<[string, string, RequestInit, number, string]> = [
    ["malformed JSON", "/v1/functions/echo/invoke", jsonPost("{not json"), 400, "MALFORMED_JSON"],
    [
      "wrong content type",
      "/v1/functions/echo/invoke",
      { method: "POST", headers: { "content-type": "text/plain" }, body: "hi" },
      415,
      "UNSUPPORTED_MEDIA_TYPE",
    ],
    [
      "body over the limit",
      "/v1/functions/echo/invoke",
      jsonPost({ message: "x".repeat(2 * 1024 * 1024) }),
      413,
      "PAYLOAD_TOO_LARGE",
    ],
    ["unknown function", "/v1/functions/nope/invoke", jsonPost({}), 404, "FUNCTION_NOT_FOUND"],
    ["invalid input", "/v1/functions/echo/invoke", jsonPost({ message: 42 }), 422, "INPUT_INVALID"],
    ["timeout", "/v1/functions/sleepy/invoke", jsonPost({ ms: 2000 }), 504, "FUNCTION_TIMEOUT"],
    ["output breaks its own schema", "/v1/functions/liar/invoke", jsonPost({}), 502, "OUTPUT_INVALID"],
    [
      "invalid UTF-8",
      "/v1/functions/echo/invoke",
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
      },
      400,
      "INVALID_UTF8",
    ],
    [
      "deeply nested JSON",
      "/v1/functions/echo/invoke",
      jsonPost(`${"[".repeat(5000)}${"]".repeat(5000)}`),
      400,
      "JSON_TOO_DEEP",
    ],
    [
      "unknown invocation",
      "/v1/invocations/00000000-0000-7000-8000-000000000000",
      {},
      404,
      "INVOCATION_NOT_FOUND",
    ],
    ["bad status filter", "/v1/invocations?status=exploded", {}, 400, "REQUEST_INVALID"],
    ["unknown route", "/v1/nothing-here", {}, 404, "ROUTE_NOT_FOUND"],
    ["bad mode", "/v1/functions/echo/invoke?mode=later", jsonPost({}), 400, "REQUEST_INVALID"],
  ];
  it.each(cases)("%s", async (_name, path, init, status, code) => {
    const res = await node.request(path, init);
    expect(res.status).toBe(status);
    expect((await problemOf(res)).code).toBe(code);
  });

  it("names the failing field path on invalid input", async () => {
    const res = await node.request("/v1/functions/echo/invoke", jsonPost({ message: 1 }));
    const body = await problemOf(res);
    expect(body.errors).toEqual([expect.objectContaining({ path: "message" })]);
  });
});

describe("async invoke", () => {
  it("answers 202 with id and Location, then succeeds", async () => {
    const res = await node.request("/v1/functions/echo/invoke?mode=async", jsonPost({ message: "later" }));
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    expect(res.headers.get("location")).toBe(`/v1/invocations/${id}`);
    const done = await waitForInvocation(node, id);
    expect(done).toMatchObject({ status: "succeeded", output: { message: "later" }, trigger: "http" });
  });

  it("unknown function is a 404 at enqueue time", async () => {
    const res = await node.request("/v1/functions/ghost/invoke?mode=async", jsonPost({}));
    expect(res.status).toBe(404);
  });

  it("invalid input is a 422 at enqueue time", async () => {
    const res = await node.request("/v1/functions/echo/invoke?mode=async", jsonPost({ delayMs: "soon" }));
    expect(res.status).toBe(422);
  });

  it("retries a failing function and succeeds on a later attempt", async () => {
    const key = `r-${Math.random()}`;
    const res = await node.request(
      "/v1/functions/flaky/invoke?mode=async",
      jsonPost({ key, succeedOnCall: 2 }),
    );
    const { id } = (await res.json()) as { id: string };
    const done = await waitForInvocation(node, id, 15_000);
    expect(done).toMatchObject({ status: "succeeded", attempt: 2, output: { calls: 2 } });
  });

  it("cancels a queued invocation; it never runs", async () => {
    const res = await node.request("/v1/functions/echo/invoke?mode=async", jsonPost({ message: "x" }));
    const { id } = (await res.json()) as { id: string };
    const del = await node.request(`/v1/invocations/${id}`, { method: "DELETE" });
    // The worker may win the race for a job it already holds; both outcomes are honest answers.
    if (del.status === 200) {
      expect(((await del.json()) as { status: string }).status).toBe("cancelled");
      await new Promise((r) => setTimeout(r, 200));
      const row = (await (await node.request(`/v1/invocations/${id}`)).json()) as { status: string };
      expect(row.status).toBe("cancelled");
    } else {
      expect(del.status).toBe(409);
    }
  });

  it("a repeated Idempotency-Key on async returns the same id", async () => {
    const key = `a-${Math.random()}`;
    const a = (await (
      await node.request("/v1/functions/echo/invoke?mode=async", jsonPost({}, { "Idempotency-Key": key }))
    ).json()) as { id: string };
    const b = (await (
      await node.request("/v1/functions/echo/invoke?mode=async", jsonPost({}, { "Idempotency-Key": key }))
    ).json()) as { id: string };
    expect(b.id).toBe(a.id);
  });
});

describe("dead letters and cancellation", () => {
  let quiet: TestNode;
  beforeAll(async () => {
    quiet = await startTestNode({ worker: false, env: { SUTAZAI_RETRY_BACKOFF_MS: "20" } });
  });
  afterAll(async () => {
    await quiet.dispose();
  });

  it("a queued invocation can be cancelled and never runs", async () => {
    const res = await quiet.request("/v1/functions/echo/invoke?mode=async", jsonPost({ message: "x" }));
    const { id } = (await res.json()) as { id: string };
    const del = await quiet.request(`/v1/invocations/${id}`, { method: "DELETE" });
    expect(del.status).toBe(200);
    expect(((await del.json()) as { status: string }).status).toBe("cancelled");
    const again = await quiet.request(`/v1/invocations/${id}`, { method: "DELETE" });
    expect(again.status).toBe(409);
    const worker = quiet.startWorker();
    await new Promise((r) => setTimeout(r, 300));
    await worker.close();
    const row = (await (await quiet.request(`/v1/invocations/${id}`)).json()) as {
      status: string;
      startedAt: unknown;
    };
    expect(row).toMatchObject({ status: "cancelled", startedAt: null });
  });

  it("exhausted retries end dead, listed as dead, and can be re-driven", async () => {
    const key = `d-${Math.random()}`;
    const res = await quiet.request(
      "/v1/functions/flaky/invoke?mode=async",
      jsonPost({ key, succeedOnCall: 5 }),
    );
    const { id } = (await res.json()) as { id: string };
    const worker = quiet.startWorker();
    const dead = await waitForInvocation(quiet, id, 15_000);
    expect(dead).toMatchObject({
      status: "dead",
      attempt: 4,
      maxAttempts: 4,
      error: { code: "FUNCTION_ERROR" },
    });
    const list = (await (await quiet.request("/v1/invocations?status=dead")).json()) as {
      invocations: Array<{ id: string }>;
    };
    expect(list.invocations.map((i) => i.id)).toContain(id);
    // the fifth call succeeds: re-driving gives it fresh attempts
    const redrive = await quiet.request(`/v1/invocations/${id}/redrive`, { method: "POST" });
    expect(redrive.status).toBe(202);
    const done = await waitForInvocation(quiet, id, 15_000);
    expect(done).toMatchObject({ status: "succeeded", output: { calls: 5 } });
    await worker.close();
  });
});
