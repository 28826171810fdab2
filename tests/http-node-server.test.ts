import { type ServerType, serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineFunction } from "../runtime/function.ts";
import { SECURITY_HEADERS } from "../runtime/http/node-http.ts";
import { freePort } from "./support/free-port.ts";
import { startTestNode, type TestNode } from "./support/test-node.ts";

/** Waits until its signal aborts (or 5 s), and says which. */
const sawAbort: string[] = [];
const patient = defineFunction({
  name: "patient",
  description: "Waits for its caller to give up",
  input: z.object({ tag: z.string() }),
  output: z.object({ waited: z.boolean() }),
  timeoutMs: 10_000,
  handler: ({ tag }, ctx) =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ waited: true }), 5000);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        sawAbort.push(tag);
        resolve({ waited: false });
      });
    }),
});

/** The request and response have fast paths for real Node requests; check them over a real socket. */
let node: TestNode;
let http: ServerType;
let url: string;

beforeAll(async () => {
  node = await startTestNode({ env: { SUTAZAI_BODY_LIMIT: "4096" }, extraFunctions: [patient as never] });
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  await new Promise<void>((resolve) => {
    http = serve({ fetch: node.app.fetch, port, hostname: "127.0.0.1" }, () => resolve());
  });
});
afterAll(async () => {
  await new Promise<void>((resolve) => http.close(() => resolve()));
  await node.dispose();
});

const post = (body: string | Uint8Array, type = "application/json") =>
  fetch(`${url}/v1/functions/echo/invoke`, {
    method: "POST",
    headers: { authorization: `Bearer ${node.adminKey}`, "content-type": type },
    body,
  });

describe("JSON bodies over a real socket", () => {
  it("a valid body is parsed", async () => {
    const res = await post(JSON.stringify({ message: "real" }));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { output: { message: string } }).output.message).toBe("real");
  });

  it.each([
    [
      "too large",
      JSON.stringify({ message: "x".repeat(10_000) }),
      "application/json",
      413,
      "PAYLOAD_TOO_LARGE",
    ],
    ["malformed", "{oops", "application/json", 400, "MALFORMED_JSON"],
    ["invalid UTF-8", new Uint8Array([0x22, 0xff, 0x22]), "application/json", 400, "INVALID_UTF8"],
    ["not JSON", "hello", "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"],
  ])("%s", async (_name, body, type, status, code) => {
    const res = await post(body, type);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { code: string }).code).toBe(code);
  });

  it("an empty body is an absent input", async () => {
    const res = await fetch(`${url}/v1/functions/echo/invoke`, {
      method: "POST",
      headers: { authorization: `Bearer ${node.adminKey}` },
    });
    expect(res.status).toBe(422); // echo needs an object
  });
});

describe("headers over a real socket (read from and written to the Node request)", () => {
  const auth = () => ({ authorization: `Bearer ${node.adminKey}`, "content-type": "application/json" });

  it.each([
    ["a 200", "/v1/functions", () => ({ headers: auth() }), 200],
    ["a 401", "/v1/functions", () => ({ headers: { authorization: "Bearer nope" } }), 401],
    ["a 404", "/v1/no-such-route", () => ({ headers: auth() }), 404],
    [
      "a 413",
      "/v1/functions/echo/invoke",
      () => ({ method: "POST", headers: auth(), body: JSON.stringify({ message: "x".repeat(10_000) }) }),
      413,
    ],
    [
      "a stream",
      "/v1/functions/echo/invoke",
      () => ({
        method: "POST",
        headers: { ...auth(), accept: "text/event-stream" },
        body: JSON.stringify({ message: "streamed" }),
      }),
      200,
    ],
  ])("%s carries the security headers once", async (_name, path, init, status) => {
    const res = await fetch(`${url}${path}`, init() as RequestInit);
    expect(res.status).toBe(status);
    for (const [name, value] of SECURITY_HEADERS) expect(res.headers.get(name)).toBe(value);
    await res.arrayBuffer();
  });

  it("reads the Idempotency-Key and the Accept header from the Node request", async () => {
    const once = () =>
      fetch(`${url}/v1/functions/echo/invoke`, {
        method: "POST",
        headers: { ...auth(), "idempotency-key": "real-socket-1" },
        body: JSON.stringify({ message: "once" }),
      }).then((r) => r.json() as Promise<{ id: string }>);
    const [a, b] = [await once(), await once()];
    expect(b.id).toBe(a.id);
    const stream = await fetch(`${url}/v1/functions/echo/invoke`, {
      method: "POST",
      headers: { ...auth(), accept: "text/event-stream" },
      body: JSON.stringify({ message: "streamed" }),
    });
    expect(stream.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(await stream.text()).toContain("streamed");
  });
});

describe("a client that hangs up", () => {
  it("cancels its running invocation: the handler's signal aborts and the row says CANCELLED", async () => {
    const gone = new AbortController();
    const call = fetch(`${url}/v1/functions/patient/invoke`, {
      method: "POST",
      headers: { authorization: `Bearer ${node.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ tag: "hung-up" }),
      signal: gone.signal,
    }).catch((err: Error) => err);
    await new Promise((r) => setTimeout(r, 200));
    gone.abort();
    expect(await call).toBeInstanceOf(Error);
    await expect.poll(() => sawAbort, { timeout: 3000 }).toContain("hung-up");
    const list = await fetch(`${url}/v1/invocations?function=patient`, {
      headers: { authorization: `Bearer ${node.adminKey}` },
    });
    const rows = ((await list.json()) as { invocations: Array<{ status: string; error?: { code: string } }> })
      .invocations;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.status).toBe("failed");
    expect(rows[0]!.error?.code).toBe("CANCELLED");
  });
});
