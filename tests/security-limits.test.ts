import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type AnyFunction, defineFunction } from "../runtime/function.ts";
import { bearer, expectProblem, tokenFor } from "./support/security-helpers.ts";
import { jsonPost, startTestNode, type TestNode } from "./support/test-node.ts";

/** Abuse limits (rate, body size, per-function concurrency), security headers and CORS, on the real app. */

// A function that holds its slot until the test lets go, to fill a concurrency cap of 1.
let release: () => void = () => {};
const gate = defineFunction({
  name: "gate",
  description: "Waits until the test releases it",
  input: z.object({}),
  output: z.object({ ok: z.boolean() }),
  concurrency: 1,
  timeoutMs: 10_000,
  handler: () => new Promise<{ ok: boolean }>((resolve) => (release = () => resolve({ ok: true }))),
});

const BURST = 5;
let limited: TestNode; // small rate limit and body limit
let plain: TestNode; // defaults: CORS off
let corsNode: TestNode; // CORS for two origins

beforeAll(async () => {
  [limited, plain, corsNode] = await Promise.all([
    startTestNode({
      worker: false,
      env: { SUTAZAI_RATE_LIMIT: "1", SUTAZAI_RATE_BURST: String(BURST), SUTAZAI_BODY_LIMIT: "2048" },
      extraFunctions: [gate as AnyFunction],
    }),
    startTestNode({ worker: false }),
    startTestNode({
      worker: false,
      env: { SUTAZAI_CORS_ORIGINS: "https://app.example, https://ops.example" },
    }),
  ]);
});
afterAll(async () => {
  await Promise.all([limited?.dispose(), plain?.dispose(), corsNode?.dispose()]);
});

describe("rate limit", () => {
  it(`answers 429 with Retry-After once a key has spent its burst of ${BURST}, per credential`, async () => {
    const a = await limited.platform.security.keys.create({
      name: "a",
      role: "operator",
      createdBy: "security-test",
    });
    const b = await limited.platform.security.keys.create({
      name: "b",
      role: "operator",
      createdBy: "security-test",
    });
    // A token minted from key A is the same principal: it shares A's bucket (this spends one).
    const tokenA = await tokenFor(limited, a.secret);
    for (let i = 1; i < BURST; i++) {
      expect(
        (await limited.app.request("/v1/functions", { headers: bearer(a.secret) })).status,
        `request ${i}`,
      ).toBe(200);
    }
    const refused = await limited.app.request("/v1/functions", { headers: bearer(a.secret) });
    expect(refused.status).toBe(429);
    const retryAfter = refused.headers.get("retry-after");
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    await expectProblem(refused, 429, "RATE_LIMITED");
    // The JWT of the same key is limited too; it is not a way around the limit.
    await expectProblem(
      await limited.app.request("/v1/functions", { headers: bearer(tokenA) }),
      429,
      "RATE_LIMITED",
    );
    // Another key has its own bucket.
    expect((await limited.app.request("/v1/functions", { headers: bearer(b.secret) })).status).toBe(200);
    // Probes are not rate limited, and a bad credential is refused as such (401), not counted.
    for (let i = 0; i < BURST * 2; i++) expect((await limited.anonymous("/healthz")).status).toBe(200);
    await expectProblem(
      await limited.app.request("/v1/functions", { headers: bearer("nonsense") }),
      401,
      "UNAUTHENTICATED",
    );
    // After Retry-After seconds a token is back.
    await new Promise((r) => setTimeout(r, Number(retryAfter) * 1000 + 100));
    expect((await limited.app.request("/v1/functions", { headers: bearer(a.secret) })).status).toBe(200);
  });
});

describe("body limit", () => {
  it("refuses a body over SUTAZAI_BODY_LIMIT with 413, naming the limit", async () => {
    const problem = await expectProblem(
      await limited.request("/v1/functions/echo/invoke", jsonPost({ message: "x".repeat(3000) })),
      413,
      "PAYLOAD_TOO_LARGE",
    );
    expect(problem.detail).toContain("2048");
    expect(
      (await limited.request("/v1/functions/echo/invoke", jsonPost({ message: "x".repeat(1000) }))).status,
    ).toBe(200);
  });
});

describe("per-function concurrency cap", () => {
  it("answers 429 CONCURRENCY_LIMIT with Retry-After while the function is at its cap", async () => {
    const first = limited.request("/v1/functions/gate/invoke", jsonPost({}));
    await new Promise((r) => setTimeout(r, 50));
    const second = await limited.request("/v1/functions/gate/invoke", jsonPost({}));
    expect(second.headers.get("retry-after")).toBe("1");
    await expectProblem(second, 429, "CONCURRENCY_LIMIT");
    release();
    expect((await first).status).toBe(200);
    const third = limited.request("/v1/functions/gate/invoke", jsonPost({}));
    await new Promise((r) => setTimeout(r, 50));
    release();
    expect((await third).status).toBe(200);
  });
});

describe("security headers", () => {
  const REQUIRED: Record<string, RegExp> = {
    "x-content-type-options": /^nosniff$/,
    "x-frame-options": /^(DENY|SAMEORIGIN)$/,
    "referrer-policy": /^no-referrer$/,
    "strict-transport-security": /max-age=\d+/,
    "cross-origin-resource-policy": /^same-origin$/,
    "cross-origin-opener-policy": /^same-origin$/,
  };

  it.each([
    ["a 200", "/v1/functions", {} as RequestInit, 200],
    ["a public page", "/docs", {}, 200],
    ["the JWKS", "/.well-known/jwks.json", {}, 200],
    ["a 401", "/v1/functions", { headers: { authorization: "Bearer nope" } }, 401],
    ["a 404", "/v1/no-such-route", {}, 404],
    ["a 400", "/v1/invocations?limit=abc", {}, 400],
    [
      "a 415",
      "/v1/functions/echo/invoke",
      { method: "POST", headers: { "content-type": "text/plain" }, body: "x" },
      415,
    ],
    ["a 422", "/v1/functions/echo/invoke", jsonPost({ message: 1 }), 422],
  ])("are on %s", async (_name, path, init, status) => {
    const headers = new Headers(init.headers);
    const res = await (headers.has("authorization")
      ? plain.app.request(path, init)
      : plain.request(path, init));
    expect(res.status).toBe(status);
    for (const [name, value] of Object.entries(REQUIRED)) expect(res.headers.get(name), name).toMatch(value);
    expect(res.headers.get("x-powered-by")).toBeNull();
    expect(res.headers.get("server")).toBeNull();
  });

  it("are on a 429 too", async () => {
    const key = await limited.platform.security.keys.create({
      name: "h",
      role: "operator",
      createdBy: "security-test",
    });
    let res: Response | undefined;
    for (let i = 0; i <= BURST; i++)
      res = await limited.app.request("/v1/functions", { headers: bearer(key.secret) });
    expect(res!.status).toBe(429);
    for (const [name, value] of Object.entries(REQUIRED)) expect(res!.headers.get(name), name).toMatch(value);
  });

  it("JSON answers declare their type, so nothing is sniffed as HTML", async () => {
    const res = await plain.request(
      "/v1/functions/echo/invoke",
      jsonPost({ message: "<script>alert(1)</script>" }),
    );
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const problem = await plain.request("/v1/functions/%3Cscript%3E/invoke", jsonPost({}));
    expect(problem.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  });
});

describe("CORS", () => {
  const preflight = (node: TestNode, origin: string) =>
    node.anonymous("/v1/functions/echo/invoke", {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
  const corsHeaders = (res: Response) =>
    [...res.headers.keys()].filter((k) => k.startsWith("access-control-"));

  it("is off by default: no Access-Control-* header on any answer, preflight included", async () => {
    const simple = await plain.request("/v1/functions", { headers: { origin: "https://app.example" } });
    expect(simple.status).toBe(200);
    expect(corsHeaders(simple)).toEqual([]);
    const pre = await preflight(plain, "https://app.example");
    expect(pre.status).not.toBe(204);
    expect(pre.status).toBeLessThan(500);
    expect(corsHeaders(pre)).toEqual([]);
    expect(
      corsHeaders(await plain.anonymous("/healthz", { headers: { origin: "https://app.example" } })),
    ).toEqual([]);
  });

  it("when SUTAZAI_CORS_ORIGINS is set, allows exactly those origins", async () => {
    const ok = await corsNode.request("/v1/functions", { headers: { origin: "https://ops.example" } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://ops.example");
    expect(ok.headers.get("vary")).toMatch(/origin/i);
    expect(ok.headers.get("access-control-allow-credentials")).toBeNull();

    const evil = await corsNode.request("/v1/functions", { headers: { origin: "https://evil.example" } });
    expect(evil.headers.get("access-control-allow-origin")).toBeNull();
    const lookalike = await corsNode.request("/v1/functions", {
      headers: { origin: "https://app.example.evil.example" },
    });
    expect(lookalike.headers.get("access-control-allow-origin")).toBeNull();
    const nullOrigin = await corsNode.request("/v1/functions", { headers: { origin: "null" } });
    expect(nullOrigin.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("answers an allowed preflight without a credential, and still requires one for the call itself", async () => {
    const pre = await preflight(corsNode, "https://app.example");
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(pre.headers.get("access-control-allow-methods")).toContain("POST");
    expect(pre.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    const denied = await preflight(corsNode, "https://evil.example");
    expect(denied.headers.get("access-control-allow-origin")).toBeNull();

    const anonymous = await corsNode.anonymous("/v1/functions", {
      headers: { origin: "https://app.example" },
    });
    await expectProblem(anonymous, 401, "UNAUTHENTICATED");
  });
});

describe("public metrics", () => {
  it("/metrics needs metrics:read unless SUTAZAI_METRICS_PUBLIC is set", async () => {
    await expectProblem(await plain.anonymous("/metrics"), 401, "UNAUTHENTICATED");
    const open = await startTestNode({ worker: false, env: { SUTAZAI_METRICS_PUBLIC: "true" } });
    try {
      const res = await open.anonymous("/metrics");
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("sutazai_invocations_total");
      // Opening /metrics opens nothing else.
      await expectProblem(await open.anonymous("/v1/functions"), 401, "UNAUTHENTICATED");
    } finally {
      await open.dispose();
    }
  });
});
