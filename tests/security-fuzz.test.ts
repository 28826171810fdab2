import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AnyFunction } from "../runtime/function.ts";
import { audited } from "./support/security-functions.ts";
import {
  bearer,
  encodeSegment,
  mintRoleKeys,
  type RoleCredential,
  tokenFor,
} from "./support/security-helpers.ts";
import { jsonPost, startTestNode, type TestNode } from "./support/test-node.ts";

/**
 * Property: whatever arrives — any method, any path built from the real route templates
 * with hostile segments, any query, any Authorization, any body — the platform answers
 * with a status below 500 (a function's own 504 FUNCTION_TIMEOUT and /readyz's 503 are the
 * only documented exceptions), every error is problem+json, and the process survives.
 * Afterwards the node still serves, every stored row reads back and the audit chain verifies.
 *
 * The deliberately broken test functions (liar: 502, flaky: throws → 500) are left out of
 * the function pool: their 5xx are their documented contract, tested in http-contract.
 */
const RUNS = Number(process.env.SUTAZAI_FUZZ_RUNS ?? 2500);
const REQUEST_TIMEOUT_MS = 5_000;

let node: TestNode;
let keys: Record<string, RoleCredential>;
let tokens: Record<string, string>;
let knownInvocation: string;
const seen = { statuses: new Map<number, number>(), requests: 0 };

beforeAll(async () => {
  node = await startTestNode({
    env: { SUTAZAI_RATE_LIMIT: "1000000", SUTAZAI_RATE_BURST: "1000000" },
    extraFunctions: [audited as AnyFunction],
  });
  keys = await mintRoleKeys(node);
  tokens = {
    admin: await tokenFor(node, keys.admin!.secret),
    device: await tokenFor(node, keys.device!.secret),
  };
  const res = await node.request("/v1/functions/echo/invoke", jsonPost({ message: "seed" }));
  knownInvocation = ((await res.json()) as { id: string }).id;
  pools.invocations.push(knownInvocation);
  for (let i = 0; i < 20; i++) {
    const victim = await node.platform.security.keys.create({
      name: `victim ${i}`,
      role: "developer",
      createdBy: "fuzz",
    });
    pools.keys.push(victim.id);
  }
});
afterAll(async () => {
  await node?.dispose();
});

const HOSTILE = [
  "' OR 1=1 --",
  '"; DROP TABLE invocations; --',
  "../../etc/passwd",
  "%2e%2e%2f",
  "..%2f",
  "a\u0000b",
  "\ud800",
  "\udfff\ud800",
  "😀",
  "x".repeat(5000),
  "%",
  "%ff",
  "%ED%A0%80",
  "__proto__",
  "constructor",
  "null",
  "-1",
  "1e309",
  "",
];

// ---- routes and segments ------------------------------------------------------------------

/** Ids the fuzz run learns (queued invocations, victim keys): later requests aim at them. */
const pools = { invocations: [] as string[], keys: [] as string[] };
const fromPool = (pool: string[]) => fc.nat().map((i) => pool[i % pool.length] ?? "none");

const randomText = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 12 }), // includes lone surrogates and NUL
  fc.constantFrom(...HOSTILE),
);

/** Real values for each kind of path slot; built lazily, once the node's ids exist. */
const REAL: Record<string, () => fc.Arbitrary<string>> = {
  fn: () => fc.constantFrom("echo", "echo", "audited", "telemetry", "sleepy", "caller", "nope"),
  id: () => fc.oneof(fromPool(pools.invocations), fc.uuid({ version: 7 })),
  ns: () => fc.constantFrom("ns", "fuzz", "seed", "a.b:c-d_e"),
  key: () => fc.constantFrom("k", "a", "x".repeat(200)),
  keyId: () => fc.oneof(fromPool(pools.keys), fc.uuid({ version: 7 })),
  device: () => fc.constantFrom("pump-1", "pump%2F2"),
  metric: () => fc.constantFrom("temp_c", "rpm"),
  any: () => fc.constantFrom("v1", "fn", "x"),
};

/** A path segment: mostly a real value for the slot, else hostile text, encoded or (where it still parses) raw. */
const segment = (slot: string) =>
  fc.oneof(
    { weight: 6, arbitrary: REAL[slot]!() },
    { weight: 2, arbitrary: randomText.map(encodeSegment) },
    { weight: 1, arbitrary: randomText.map((s) => s.replace(/[\s#?\p{Cc}]/gu, "")) }, // raw
    { weight: 1, arbitrary: fc.constantFrom("%ED%A0%80", "%00", "%zz", "%", "..", ".", "%2F", "a%2Fb") },
  );

/** Every platform route with the methods it serves (others are tried too, less often). */
const ROUTES: Array<[template: string, methods: string[]]> = [
  ["/healthz", ["GET"]],
  ["/readyz", ["GET"]],
  ["/openapi.json", ["GET"]],
  ["/docs", ["GET"]],
  ["/.well-known/jwks.json", ["GET"]],
  ["/metrics", ["GET"]],
  ["/v1/functions", ["GET"]],
  ["/v1/functions/{fn}", ["GET"]],
  ["/v1/functions/{fn}/invoke", ["POST"]],
  ["/v1/functions/{fn}/invoke", ["POST"]],
  ["/v1/functions/{fn}/invoke", ["POST"]],
  ["/v1/functions/{fn}/invoke?mode=async", ["POST"]],
  ["/v1/functions/{fn}/invoke?mode=async", ["POST"]],
  ["/v1/invocations", ["GET"]],
  ["/v1/invocations/{id}", ["GET", "DELETE"]],
  ["/v1/invocations/{id}/redrive", ["POST"]],
  ["/v1/state/{ns}/{key}", ["GET", "PUT", "PUT", "DELETE"]],
  ["/v1/state/{ns}", ["GET"]],
  ["/v1/keys", ["GET", "POST"]],
  ["/v1/keys/{keyId}", ["DELETE"]],
  ["/v1/auth/token", ["POST"]],
  ["/v1/audit", ["GET"]],
  ["/v1/models", ["GET"]],
  ["/v1/models/pull", ["POST"]],
  ["/fn/{fn}/series/{device}", ["GET"]],
  ["/fn/{fn}/series/{device}/{metric}", ["GET"]],
  ["/fn/{fn}/{any}", ["GET", "POST"]],
  ["/{any}", ["GET"]],
  ["/v1/{any}/{any}", ["GET"]],
];
const ANY_METHOD = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

const route = () =>
  fc.constantFrom(...ROUTES).chain(([template, methods]) => {
    const slots = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
    return fc.record({
      method: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...methods) },
        { weight: 1, arbitrary: fc.constantFrom(...ANY_METHOD) },
      ),
      path: fc
        .tuple(
          fc.tuple(...slots.map(segment)),
          fc.oneof({ weight: 10, arbitrary: fc.constant("") }, fc.constantFrom("/", "//")),
        )
        .map(([segs, suffix]) => {
          let i = 0;
          return template.replace(/\{\w+\}/g, () => (segs as string[])[i++]!) + suffix;
        }),
    });
  });

// ---- query --------------------------------------------------------------------------------

const QUERY_KEYS = [
  "function",
  "status",
  "limit",
  "before",
  "after",
  "action",
  "actor",
  "since",
  "until",
  "order",
  "mode",
  "windowMs",
];
const queryValue = fc.oneof(
  fc.constantFrom(
    "async",
    "sync",
    "succeeded",
    "dead",
    "1",
    "0",
    "500",
    "1000",
    "asc",
    "desc",
    "echo",
    "2024-05-01T00:00:00Z",
  ),
  fc.integer().map(String),
  randomText,
);
const query = fc.oneof(
  { weight: 2, arbitrary: fc.constant("?mode=async") },
  { weight: 2, arbitrary: fc.constant("") },
  {
    weight: 5,
    arbitrary: fc
      .array(fc.tuple(fc.oneof(fc.constantFrom(...QUERY_KEYS), fc.string({ maxLength: 8 })), queryValue), {
        maxLength: 4,
      })
      .map((pairs) =>
        pairs.length ? `?${pairs.map(([k, v]) => `${encodeSegment(k)}=${encodeSegment(v)}`).join("&")}` : "",
      ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "?limit=%zz",
      "?function=%ED%A0%80",
      "?&&&",
      "?=",
      "?mode=async&mode=sync",
      "?%00=%00",
    ),
  },
);

// ---- headers ------------------------------------------------------------------------------

/** Header values must be ByteStrings without CR, LF or NUL; anything else cannot be sent. */
const headerSafe = (s: string) => s.replace(/[^\x20-\x7e\x80-\xff\t]/g, "");
const authorization = () =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(`Bearer ${keys.admin!.secret}`) },
    { weight: 4, arbitrary: fc.constantFrom(...Object.values(keys).map((k) => `Bearer ${k.secret}`)) },
    { weight: 2, arbitrary: fc.constantFrom(`Bearer ${tokens.admin}`, `Bearer ${tokens.device}`) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 3,
      arbitrary: fc.oneof(
        fc.constantFrom(
          "Bearer",
          "Basic dXNlcjpwYXNz",
          "Bearer a.b.c",
          `Bearer ${keys.admin!.secret}x`,
          `bearer   ${keys.admin!.secret}`,
        ),
        fc.constantFrom(
          `Bearer ${tokens.admin!.slice(0, -3)}AAA`,
          `Bearer ${tokens.admin!.split(".").slice(0, 2).join(".")}.`,
        ),
        fc.string({ maxLength: 60 }).map((s) => `Bearer ${headerSafe(s)}`),
        fc.string({ unit: "binary-ascii", maxLength: 60 }).map(headerSafe),
        fc
          .tuple(fc.jsonValue({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 2 }), fc.string({ maxLength: 20 }))
          .map(([h, p, s]) => {
            const b = (v: unknown) => Buffer.from(JSON.stringify(v) ?? "null").toString("base64url");
            return `Bearer ${b(h)}.${b(p)}.${Buffer.from(s).toString("base64url")}`;
          }),
      ),
    },
  );
const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant("application/json") },
  fc.constantFrom(
    "application/json",
    "application/json",
    "application/json; charset=utf-8",
    "application/problem+json",
  ),
  fc.constantFrom(
    "text/plain",
    "application/x-www-form-urlencoded",
    "",
    "application/jsonx",
    "APPLICATION/JSON",
  ),
  fc.string({ maxLength: 30 }).map(headerSafe),
);

// ---- bodies -------------------------------------------------------------------------------

const plausibleInput = fc.oneof(
  fc
    .dictionary(randomText, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 })
    .chain((extra) => randomText.map((text) => ({ ...extra, text }))),
  fc.record({
    message: fc.option(randomText, { nil: undefined }),
    delayMs: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
  }),
  fc.record({ ms: fc.integer({ min: 0, max: 150 }) }),
  fc.record({
    device: fc.oneof(fc.constant("pump-1"), randomText),
    metric: fc.oneof(fc.constant("temp_c"), randomText),
    value: fc.oneof(fc.double(), fc.integer(), randomText),
    ts: fc.option(
      fc.oneof(
        fc.integer(),
        fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        randomText,
      ),
      { nil: undefined },
    ),
  }),
  fc.record({
    query: fc.record({
      device: fc.oneof(fc.constant("pump-1"), randomText),
      recent: fc.integer({ min: -5, max: 2000 }),
    }),
  }),
  fc.record({
    name: randomText,
    role: fc.oneof(
      fc.constantFrom("admin", "operator", "developer", "auditor", "device", "node"),
      randomText,
    ),
    functions: fc.option(fc.array(fc.oneof(fc.constant("echo"), randomText), { maxLength: 3 }), {
      nil: undefined,
    }),
    expires: fc.option(fc.oneof(fc.constantFrom("30d", "1h", "0s", "99999999999d"), randomText), {
      nil: undefined,
    }),
  }),
  fc.record({ message: fc.constant("x"), __proto__: fc.constant({ admin: true }) } as never),
);
const body = fc.oneof(
  { weight: 2, arbitrary: fc.constant<string | Uint8Array | undefined>(undefined) },
  { weight: 8, arbitrary: plausibleInput.map((v) => JSON.stringify(v)) },
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? "null") },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 100 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 1, max: 2000 }), fc.constantFrom("[", '{"a":'))
      .map(
        ([depth, open]) =>
          open.repeat(depth) + (open === "[" ? "" : "1") + (open === "[" ? "]" : "}").repeat(depth),
      ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "{",
      "null",
      '"x"',
      "1e309",
      '{"message":"\\ud800"}',
      '{"message":"\\u0000"}',
      "\ufeff{}",
    ),
  },
);

const request = () =>
  fc.record({
    route: route(),
    query,
    authorization: authorization(),
    contentType,
    idempotencyKey: fc.option(fc.string({ maxLength: 210 }).map(headerSafe), { nil: undefined, freq: 6 }),
    accept: fc.option(fc.constantFrom("text/event-stream", "application/json", "*/*"), {
      nil: undefined,
      freq: 4,
    }),
    origin: fc.option(fc.constantFrom("https://evil.example", "null", "http://localhost"), {
      nil: undefined,
      freq: 4,
    }),
    body,
  });
type Fuzzed = ReturnType<typeof request> extends fc.Arbitrary<infer T> ? T : never;

function toRequest(r: Fuzzed): { url: string; init: RequestInit } | undefined {
  const url = r.route.path.includes("?")
    ? `${r.route.path}${r.query.replace(/^\?/, "&")}`
    : `${r.route.path}${r.query}`;
  try {
    new URL(url, "http://localhost");
  } catch {
    return undefined;
  }
  const headers = new Headers();
  try {
    if (r.authorization !== undefined) headers.set("authorization", r.authorization);
    if (r.contentType) headers.set("content-type", r.contentType);
    if (r.idempotencyKey !== undefined) headers.set("idempotency-key", r.idempotencyKey);
    if (r.origin) headers.set("origin", r.origin);
    if (r.accept) headers.set("accept", r.accept);
  } catch {
    return undefined; // not sendable over HTTP at all
  }
  const init: RequestInit = { method: r.route.method, headers };
  if (r.body !== undefined && r.route.method !== "GET" && r.route.method !== "HEAD") init.body = r.body;
  return { url, init };
}

async function send(url: string, init: RequestInit): Promise<Response> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)),
      REQUEST_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([node.app.request(url, init), hang]);
  } finally {
    clearTimeout(timer);
  }
}

describe("fuzzing the platform API", () => {
  it(`${RUNS} random requests: no 5xx, errors are problem+json, no crash`, {
    timeout: Math.max(60_000, RUNS * 20),
  }, async () => {
    await fc.assert(
      fc.asyncProperty(request(), async (r) => {
        const built = toRequest(r);
        if (!built) return; // a client cannot send it: nothing to test
        const res = await send(built.url, built.init);
        seen.requests++;
        seen.statuses.set(res.status, (seen.statuses.get(res.status) ?? 0) + 1);
        const text = await res.text();
        const type = res.headers.get("content-type") ?? "";
        if (res.status === 202 || res.status === 201) {
          const id = (JSON.parse(text) as { id?: unknown }).id;
          if (typeof id === "string") (res.status === 202 ? pools.invocations : pools.keys).push(id);
        }
        const what = `${r.route.method} ${built.url.slice(0, 200)} -> ${res.status} ${text.slice(0, 300)}`;
        if (res.status >= 500) {
          const code = type.includes("json") ? (JSON.parse(text) as { code?: string }).code : undefined;
          const documented =
            (res.status === 503 && r.route.path.startsWith("/readyz")) ||
            (res.status === 504 && code === "FUNCTION_TIMEOUT");
          expect(documented, what).toBe(true);
        }
        if (res.status >= 400 && r.route.method !== "HEAD") {
          expect(type, what).toMatch(/^application\/problem\+json/);
          const problem = JSON.parse(text) as { status: number; code: string; detail: string };
          expect(problem.status, what).toBe(res.status);
          expect(problem.code, what).toMatch(/^[A-Z0-9_]+$/);
        }
        // Never echo a secret back: the only answer allowed to hold one is POST /v1/keys.
        if (!(r.route.method === "POST" && r.route.path.replace(/\/+$/, "") === "/v1/keys")) {
          for (const k of Object.values(keys)) expect(text.includes(k.secret), what).toBe(false);
        }
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    if (process.env.SUTAZAI_FUZZ_DEBUG) console.log(JSON.stringify([...seen.statuses].sort()));
    // The run must have reached past authentication and validation, not just bounced off.
    const count = (pred: (s: number) => boolean) =>
      [...seen.statuses].filter(([s]) => pred(s)).reduce((n, [, c]) => n + c, 0);
    expect(seen.requests).toBeGreaterThan(RUNS * 0.9);
    expect(count((s) => s >= 200 && s < 300)).toBeGreaterThan(RUNS * 0.05);
    expect(count((s) => s === 401)).toBeGreaterThan(0);
    expect(count((s) => s === 403)).toBeGreaterThan(0);
    expect(count((s) => s === 400 || s === 422)).toBeGreaterThan(0);
  });

  it("the node still serves, every stored row reads back, and the audit chain verifies", async () => {
    expect((await node.anonymous("/healthz")).status).toBe(200);
    expect((await node.anonymous("/readyz")).status).toBe(200);
    expect((await node.app.request("/v1/functions", { headers: bearer(keys.operator!.secret) })).status).toBe(
      200,
    );
    await node.platform.invocations.flush();
    await node.platform.security.audit.flush();
    const { client } = node.platform.database;
    const tables = await client.execute("SELECT name FROM sqlite_master WHERE type = 'table'");
    for (const { name } of tables.rows) await client.execute(`SELECT * FROM "${String(name)}"`);
    // Through the API as well: every invocation and audit entry renders as JSON.
    for (const path of ["/v1/invocations?limit=500", "/v1/audit?limit=1000&order=desc", "/v1/keys"]) {
      const res = await node.request(path);
      expect(res.status, path).toBe(200);
      await res.json();
    }
    expect(await node.platform.security.audit.verify()).toMatchObject({ ok: true });
  });
});
