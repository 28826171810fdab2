import { type ServerType, serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./support/free-port.ts";
import { startTestNode, type TestNode } from "./support/test-node.ts";

/** The body reader has a fast path for real Node requests; check it over a real socket. */
let node: TestNode;
let http: ServerType;
let url: string;

beforeAll(async () => {
  node = await startTestNode({ env: { SUTAZAI_BODY_LIMIT: "4096" } });
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
