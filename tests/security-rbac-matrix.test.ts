import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Role } from "../runtime/auth/principal.ts";
import { SYSTEM_PRINCIPAL } from "../runtime/auth/principal.ts";
import { uuidv7 } from "../runtime/ids.ts";
import {
  bearer,
  expectProblem,
  mintRoleKeys,
  type RoleCredential,
  tokenFor,
} from "./support/security-helpers.ts";
import { jsonPost, startTestNode, type TestNode, waitForInvocation } from "./support/test-node.ts";

/**
 * Role × endpoint matrix. THE EXPECTATION TABLE BELOW IS WRITTEN BY HAND from the issue
 * (runtime/auth/rbac.ts is deliberately not consulted: a test that asked the code what it
 * allows could never fail). For every endpoint, `allow` lists the roles that get `ok`; every
 * other role gets 403 FORBIDDEN, and a request without a credential gets 401, unless the
 * endpoint is PUBLIC (everyone, with or without a credential, gets `ok`).
 *
 * Each cell arranges its own data first (a queued invocation to cancel, a dead one to
 * re-drive, a state value to read or delete, a key to revoke), so an allowed role gets the
 * exact success status rather than "anything but 401/403".
 */
const A = "admin";
const O = "operator";
const D = "developer";
const U = "auditor";
const V = "device"; // granted `echo` only
const N = "node"; // the edge→server sync credential: no platform endpoint at all
const PUBLIC = "public" as const;
const ANY_KEY = "any-key" as const; // every role, as long as the credential is an API key

type Allow = readonly Role[] | typeof PUBLIC | typeof ANY_KEY;
interface Row {
  endpoint: string;
  ok: number;
  allow: Allow;
}

// biome-ignore format: the table is meant to be read as a table
const MATRIX: readonly Row[] = [
  // endpoint                                          ok   roles that get `ok`
  { endpoint: "GET /healthz",                          ok: 200, allow: PUBLIC },
  { endpoint: "GET /readyz",                           ok: 200, allow: PUBLIC },
  { endpoint: "GET /openapi.json",                     ok: 200, allow: PUBLIC },
  { endpoint: "GET /docs",                             ok: 200, allow: PUBLIC },
  { endpoint: "GET /.well-known/jwks.json",            ok: 200, allow: PUBLIC },
  { endpoint: "GET /v1/functions",                     ok: 200, allow: [A, O, D, U, V] },
  { endpoint: "GET /v1/functions/echo",                ok: 200, allow: [A, O, D, U, V] },
  { endpoint: "POST /v1/functions/echo/invoke",        ok: 200, allow: [A, O, D, V] },   // device: granted
  { endpoint: "POST /v1/functions/telemetry/invoke",   ok: 200, allow: [A, O, D] },      // device: not granted
  { endpoint: "POST /v1/functions/echo/invoke?mode=async",      ok: 202, allow: [A, O, D, V] },
  { endpoint: "POST /v1/functions/telemetry/invoke?mode=async", ok: 202, allow: [A, O, D] },
  { endpoint: "POST /v1/functions/telemetry/invoke (SSE)",     ok: 200, allow: [A, O, D] }, // Accept: text/event-stream
  { endpoint: "GET /fn/telemetry/series/pump-1",       ok: 200, allow: [A, O, D] },      // a function's own routes
  { endpoint: "GET /v1/invocations",                   ok: 200, allow: [A, O, D, U] },
  { endpoint: "GET /v1/invocations/:id",               ok: 200, allow: [A, O, D, U] },
  { endpoint: "DELETE /v1/invocations/:id",            ok: 200, allow: [A, O] },         // cancels a queued one
  { endpoint: "POST /v1/invocations/:id/redrive",      ok: 202, allow: [A, O] },         // re-drives a dead one
  { endpoint: "GET /v1/state/ns/key",                  ok: 200, allow: [A, O, D, V] },
  { endpoint: "PUT /v1/state/ns/key",                  ok: 200, allow: [A, O, D, V] },
  { endpoint: "DELETE /v1/state/ns/key",               ok: 204, allow: [A, O, D, V] },
  { endpoint: "GET /v1/state/ns",                      ok: 200, allow: [A, O, D, V] },
  { endpoint: "GET /metrics",                          ok: 200, allow: [A, O, U] },
  { endpoint: "GET /v1/keys",                          ok: 200, allow: [A] },
  { endpoint: "POST /v1/keys",                         ok: 201, allow: [A] },
  { endpoint: "DELETE /v1/keys/:id",                   ok: 200, allow: [A] },
  { endpoint: "POST /v1/auth/token",                   ok: 200, allow: ANY_KEY },        // a JWT gets 400 API_KEY_REQUIRED
  { endpoint: "GET /v1/audit",                         ok: 200, allow: [A, U] },
  { endpoint: "GET /v1/audit/verify",                  ok: 200, allow: [A, U] },
  { endpoint: "GET /v1/models",                        ok: 200, allow: [A, O, D] },
  { endpoint: "POST /v1/models/pull",                  ok: 400, allow: [A] },            // past the gate: no LLM in tests (LLM_PULL_UNSUPPORTED)
  { endpoint: "POST /v1/workflows",                    ok: 201, allow: [A, O, D] },
  { endpoint: "GET /v1/workflows/:id",                 ok: 200, allow: [A, O, D, U] },
  { endpoint: "DELETE /v1/workflows/:id",              ok: 200, allow: [A, O] },         // someone else's workflow: needs invocations:manage too
  // knowledge base: knowledge:read/write, then the `knowledge` function (the device is granted echo only)
  { endpoint: "GET /v1/knowledge/collections",         ok: 200, allow: [A, O, D] },
  { endpoint: "POST /v1/knowledge/collections",        ok: 201, allow: [A, O, D] },
  { endpoint: "DELETE /v1/knowledge/collections/:name", ok: 200, allow: [A, O, D] },
  { endpoint: "GET /v1/knowledge/collections/:name/documents", ok: 200, allow: [A, O, D] },
  { endpoint: "POST /v1/knowledge/documents?mode=async", ok: 202, allow: [A, O, D] },     // no worker: stays queued
  { endpoint: "DELETE /v1/knowledge/documents",        ok: 404, allow: [A, O, D] },      // past the gate: no such document
  { endpoint: "GET /v1/knowledge/search",              ok: 200, allow: [A, O, D] },      // keyword mode: no LLM in tests
];

const ROLES: readonly Role[] = [A, O, D, U, V, N];
type Via = "key" | "jwt";

/** What the table says `who` (over `via`) must get from `row`. */
function expected(row: Row, who: Role | "anonymous", via: Via): number {
  if (row.allow === PUBLIC) return row.ok;
  if (who === "anonymous") return 401;
  if (row.allow === ANY_KEY) return via === "key" ? row.ok : 400;
  return row.allow.includes(who) ? row.ok : 403;
}

interface Ctx {
  node: TestNode;
  finishedId: string;
}
interface Prepared {
  path: string;
  init?: RequestInit;
  /** for refused requests: proves the target is untouched afterwards */
  untouched?: () => Promise<void>;
}

const echoCall = jsonPost({ message: "matrix" });
const telemetryCall = jsonPost({ device: "pump-1", metric: "temp_c", value: 21.5 });

/** How to call each endpoint, and the data it needs. */
const REQUESTS: Record<string, (ctx: Ctx) => Promise<Prepared> | Prepared> = {
  "GET /healthz": () => ({ path: "/healthz" }),
  "GET /readyz": () => ({ path: "/readyz" }),
  "GET /openapi.json": () => ({ path: "/openapi.json" }),
  "GET /docs": () => ({ path: "/docs" }),
  "GET /.well-known/jwks.json": () => ({ path: "/.well-known/jwks.json" }),
  "GET /v1/functions": () => ({ path: "/v1/functions" }),
  "GET /v1/functions/echo": () => ({ path: "/v1/functions/echo" }),
  "POST /v1/functions/echo/invoke": () => ({ path: "/v1/functions/echo/invoke", init: echoCall }),
  "POST /v1/functions/telemetry/invoke": () => ({
    path: "/v1/functions/telemetry/invoke",
    init: telemetryCall,
  }),
  "POST /v1/functions/echo/invoke?mode=async": () => ({
    path: "/v1/functions/echo/invoke?mode=async",
    init: echoCall,
  }),
  "POST /v1/functions/telemetry/invoke?mode=async": () => ({
    path: "/v1/functions/telemetry/invoke?mode=async",
    init: telemetryCall,
  }),
  "POST /v1/functions/telemetry/invoke (SSE)": () => ({
    path: "/v1/functions/telemetry/invoke",
    init: { ...telemetryCall, headers: { "content-type": "application/json", accept: "text/event-stream" } },
  }),
  "GET /fn/telemetry/series/pump-1": () => ({ path: "/fn/telemetry/series/pump-1" }),
  "GET /v1/invocations": () => ({ path: "/v1/invocations" }),
  "GET /v1/invocations/:id": ({ finishedId }) => ({ path: `/v1/invocations/${finishedId}` }),
  "DELETE /v1/invocations/:id": async ({ node }) => {
    const { id } = await node.platform.invoker.enqueue({
      function: "echo",
      input: { message: "to cancel" },
      principal: SYSTEM_PRINCIPAL,
      trigger: "http",
    });
    return {
      path: `/v1/invocations/${id}`,
      init: { method: "DELETE" },
      untouched: async () => expect((await node.platform.invocations.get(id))?.status).toBe("queued"),
    };
  },
  "POST /v1/invocations/:id/redrive": async ({ node }) => {
    const id = uuidv7();
    await node.platform.invocations.insert({
      id,
      function: "echo",
      trigger: "http",
      status: "dead",
      attempt: 3,
      maxAttempts: 3,
      input: JSON.stringify({ message: "dead" }),
      principal: "system",
      caller: JSON.stringify({ id: "system", role: "admin", via: "system" }),
      nodeId: node.platform.node().id,
      finishedAt: Date.now(),
    });
    return {
      path: `/v1/invocations/${id}/redrive`,
      init: { method: "POST" },
      untouched: async () => expect((await node.platform.invocations.get(id))?.status).toBe("dead"),
    };
  },
  "GET /v1/state/ns/key": async ({ node }) => {
    await node.platform.state.put("ns", "key", { v: 1 });
    return { path: "/v1/state/ns/key" };
  },
  "PUT /v1/state/ns/key": ({ node }) => {
    const value = { v: uuidv7() };
    return {
      path: "/v1/state/ns/key",
      init: { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(value) },
      untouched: async () => expect(await node.platform.state.get("ns", "key")).not.toEqual(value),
    };
  },
  "DELETE /v1/state/ns/key": async ({ node }) => {
    await node.platform.state.put("ns", "key", { v: 2 });
    return {
      path: "/v1/state/ns/key",
      init: { method: "DELETE" },
      untouched: async () => expect(await node.platform.state.get("ns", "key")).toEqual({ v: 2 }),
    };
  },
  "GET /v1/state/ns": () => ({ path: "/v1/state/ns" }),
  "GET /metrics": () => ({ path: "/metrics" }),
  "GET /v1/keys": () => ({ path: "/v1/keys" }),
  "POST /v1/keys": ({ node }) => {
    const name = `matrix-${uuidv7()}`;
    return {
      path: "/v1/keys",
      init: jsonPost({ name, role: "developer" }),
      untouched: async () => {
        const keys = await node.platform.security.keys.list();
        expect(keys.some((k) => k.name === name)).toBe(false);
      },
    };
  },
  "DELETE /v1/keys/:id": async ({ node }) => {
    const victim = await node.platform.security.keys.create({
      name: "victim",
      role: "operator",
      createdBy: "security-test",
    });
    return {
      path: `/v1/keys/${victim.id}`,
      init: { method: "DELETE" },
      untouched: async () => expect(await node.platform.security.keys.verify(victim.secret)).not.toBeNull(),
    };
  },
  "POST /v1/auth/token": () => ({ path: "/v1/auth/token", init: { method: "POST" } }),
  "GET /v1/audit": () => ({ path: "/v1/audit" }),
  "GET /v1/audit/verify": () => ({ path: "/v1/audit/verify" }),
  "GET /v1/models": () => ({ path: "/v1/models" }),
  "POST /v1/models/pull": () => ({ path: "/v1/models/pull", init: jsonPost({ model: "llama3.2:1b" }) }),
  "POST /v1/workflows": () => ({
    path: "/v1/workflows",
    init: jsonPost({ steps: [{ id: "a", function: "echo", input: { message: "matrix" } }] }),
  }),
  "GET /v1/workflows/:id": async ({ node }) => {
    const { id } = await node.platform.workflows.start(
      { steps: [{ id: "a", function: "echo", input: {} }] },
      SYSTEM_PRINCIPAL,
    );
    return { path: `/v1/workflows/${id}` };
  },
  "DELETE /v1/workflows/:id": async ({ node }) => {
    // A slow first step keeps the workflow running, so an allowed cancel is a 200, not a 409.
    const { id } = await node.platform.workflows.start(
      {
        steps: [
          { id: "slow", function: "echo", input: { delayMs: 3000 } },
          { id: "after", function: "echo", input: {}, dependsOn: ["slow"] },
        ],
      },
      SYSTEM_PRINCIPAL,
    );
    return {
      path: `/v1/workflows/${id}`,
      init: { method: "DELETE" },
      untouched: async () => expect((await node.platform.workflows.get(id)).status).toBe("running"),
    };
  },
  "GET /v1/knowledge/collections": () => ({ path: "/v1/knowledge/collections" }),
  "POST /v1/knowledge/collections": () => ({
    path: "/v1/knowledge/collections",
    init: jsonPost({ name: `m-${uuidv7()}`, embeddingModel: "m", dimension: 8 }),
  }),
  "DELETE /v1/knowledge/collections/:name": async ({ node }) => {
    const name = `d-${uuidv7()}`;
    await knowledgeCall(node, { action: "createCollection", name, embeddingModel: "m", dimension: 8 });
    return { path: `/v1/knowledge/collections/${name}`, init: { method: "DELETE" } };
  },
  "GET /v1/knowledge/collections/:name/documents": async ({ node }) => {
    await knowledgeCall(node, {
      action: "createCollection",
      name: "matrix",
      embeddingModel: "m",
      dimension: 8,
    }).catch(() => {});
    return { path: "/v1/knowledge/collections/matrix/documents" };
  },
  "POST /v1/knowledge/documents?mode=async": () => ({
    path: "/v1/knowledge/documents?mode=async",
    init: jsonPost({ collection: "matrix", key: "k", content: "hello" }),
  }),
  "DELETE /v1/knowledge/documents": async ({ node }) => {
    await knowledgeCall(node, {
      action: "createCollection",
      name: "matrix",
      embeddingModel: "m",
      dimension: 8,
    }).catch(() => {});
    return { path: "/v1/knowledge/documents?collection=matrix&key=none", init: { method: "DELETE" } };
  },
  "GET /v1/knowledge/search": async ({ node }) => {
    await knowledgeCall(node, {
      action: "createCollection",
      name: "matrix",
      embeddingModel: "m",
      dimension: 8,
    }).catch(() => {});
    return { path: "/v1/knowledge/search?collection=matrix&q=hello&mode=keyword" };
  },
};

const knowledgeCall = (node: TestNode, input: unknown) =>
  node.platform.invoker.invoke({
    function: "knowledge",
    input,
    principal: SYSTEM_PRINCIPAL,
    trigger: "http",
  });

let node: TestNode;
let ctx: Ctx;
const credentials = {} as Record<Via, Record<Role, string>>;
let keys: Record<Role, RoleCredential>;

beforeAll(async () => {
  // No worker: async invocations stay queued, so one can be cancelled and nothing races the checks.
  node = await startTestNode({ worker: false });
  keys = await mintRoleKeys(node);
  credentials.key = Object.fromEntries(ROLES.map((r) => [r, keys[r].secret])) as Record<Role, string>;
  credentials.jwt = Object.fromEntries(
    await Promise.all(ROLES.map(async (r) => [r, await tokenFor(node, keys[r].secret)] as const)),
  ) as Record<Role, string>;
  const res = await node.request("/v1/functions/echo/invoke", jsonPost({ message: "seed" }));
  ctx = { node, finishedId: ((await res.json()) as { id: string }).id };
});
afterAll(async () => {
  await node?.dispose();
});

async function call(row: Row, headers: Record<string, string>) {
  const prepared = await REQUESTS[row.endpoint]!(ctx);
  const init = prepared.init ?? {};
  const res = await node.app.request(prepared.path, {
    ...init,
    headers: { ...(init.headers as Record<string, string> | undefined), ...headers },
  });
  return { res, prepared };
}

async function check(row: Row, who: Role | "anonymous", via: Via) {
  const headers = who === "anonymous" ? {} : bearer(credentials[via][who]);
  const { res, prepared } = await call(row, headers);
  const want = expected(row, who, via);
  const text = await res.clone().text();
  expect(res.status, `${who} via ${via}: ${row.endpoint} -> ${res.status} ${text.slice(0, 200)}`).toBe(want);
  if (want === 401) {
    await expectProblem(res, 401, "UNAUTHENTICATED");
  } else if (want === 403) {
    const problem = await expectProblem(res, 403, "FORBIDDEN");
    expect(problem.detail).toContain(`role ${who}`);
  } else if (want === 400) {
    await expectProblem(
      res,
      400,
      row.endpoint === "POST /v1/auth/token" ? "API_KEY_REQUIRED" : "LLM_PULL_UNSUPPORTED",
    );
  }
  if (want === 401 || want === 403) await prepared.untouched?.();
  // A stream is only a success if it carries the result, not an error event.
  if (want === 200 && row.endpoint.endsWith("(SSE)")) expect(text).toContain("event: result");
}

describe("the expectation table", () => {
  it("has a row (and a request) for every route the API describes", async () => {
    const doc = (await (await node.anonymous("/openapi.json")).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const templates = MATRIX.map((r) => {
      const [method, path] = r.endpoint.split(" ") as [string, string];
      const template = path
        .replace(/\?.*$/, "")
        .replace(/ \(SSE\)$/, "")
        .replace(/^\/v1\/functions\/(echo|telemetry)/, "/v1/functions/{name}")
        .replace(/^\/v1\/state\/ns\/key$/, "/v1/state/{namespace}/{key}")
        .replace(/^\/v1\/state\/ns$/, "/v1/state/{namespace}")
        .replace(":id", "{id}")
        .replace(":name", "{name}");
      return `${method} ${template}`;
    });
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) expect(templates).toContain(`${method.toUpperCase()} ${path}`);
    }
    for (const row of MATRIX) expect(REQUESTS[row.endpoint], row.endpoint).toBeDefined();
  });
});

describe("no credential", () => {
  for (const row of MATRIX) {
    it(`${row.endpoint} -> ${expected(row, "anonymous", "key")}`, () => check(row, "anonymous", "key"));
  }
});

for (const via of ["key", "jwt"] as const) {
  for (const role of ROLES) {
    describe(`${role} (${via === "key" ? "API key" : "JWT"})`, () => {
      for (const row of MATRIX) {
        it(`${row.endpoint} -> ${expected(row, role, via)}`, () => check(row, role, via));
      }
    });
  }
}

describe("function grants", () => {
  it("a device key granted echo may invoke echo but not telemetry, nor an unknown function's grant", async () => {
    const device = bearer(keys.device.secret);
    const ok = await node.app.request("/v1/functions/echo/invoke", {
      ...jsonPost({ message: "hi" }),
      headers: { ...device, "content-type": "application/json" },
    });
    expect(ok.status).toBe(200);
    const refused = await node.app.request("/v1/functions/telemetry/invoke", {
      ...telemetryCall,
      headers: { ...device, "content-type": "application/json" },
    });
    const problem = await expectProblem(refused, 403, "FORBIDDEN");
    expect(problem.detail).toContain("telemetry");
  });

  it("a device key without any grant may invoke nothing", async () => {
    const bare = await node.platform.security.keys.create({
      name: "no grants",
      role: "device",
      createdBy: "security-test",
    });
    const res = await node.app.request("/v1/functions/echo/invoke", {
      ...echoCall,
      headers: { ...bearer(bare.secret), "content-type": "application/json" },
    });
    await expectProblem(res, 403, "FORBIDDEN");
  });

  it("a developer key restricted to echo may not invoke telemetry", async () => {
    const narrow = await node.platform.security.keys.create({
      name: "narrow dev",
      role: "developer",
      functions: ["echo"],
      createdBy: "security-test",
    });
    const headers = { ...bearer(narrow.secret), "content-type": "application/json" };
    expect((await node.app.request("/v1/functions/echo/invoke", { ...echoCall, headers })).status).toBe(200);
    await expectProblem(
      await node.app.request("/v1/functions/telemetry/invoke", { ...telemetryCall, headers }),
      403,
      "FORBIDDEN",
    );
  });

  it("grants travel in the JWT: the device's token is refused telemetry too", async () => {
    const headers = { ...bearer(credentials.jwt.device), "content-type": "application/json" };
    expect((await node.app.request("/v1/functions/echo/invoke", { ...echoCall, headers })).status).toBe(200);
    await expectProblem(
      await node.app.request("/v1/functions/telemetry/invoke", { ...telemetryCall, headers }),
      403,
      "FORBIDDEN",
    );
  });
});

describe("queued jobs carry the principal", () => {
  it("an async invoke of an ungranted function is refused at enqueue: no row, no job", async () => {
    const count = async (table: string) =>
      Number((await node.platform.database.client.execute(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
    const before = { invocations: await count("invocations"), jobs: await count("jobs") };
    const res = await node.app.request("/v1/functions/telemetry/invoke?mode=async", {
      ...telemetryCall,
      headers: { ...bearer(keys.device.secret), "content-type": "application/json" },
    });
    await expectProblem(res, 403, "FORBIDDEN");
    expect({ invocations: await count("invocations"), jobs: await count("jobs") }).toEqual(before);
  });

  it("a granted async invoke queues the device's principal and runs as the device", async () => {
    const res = await node.app.request("/v1/functions/echo/invoke?mode=async", {
      ...jsonPost({ message: "as device" }),
      headers: { ...bearer(keys.device.secret), "content-type": "application/json" },
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const job = await node.platform.database.client.execute({
      sql: "SELECT payload FROM jobs WHERE id = ?",
      args: [id],
    });
    const payload = JSON.parse(String(job.rows[0]!.payload)) as { principal: unknown };
    expect(payload.principal).toEqual({
      id: keys.device.id,
      role: "device",
      functions: ["echo"],
      via: "key",
    });

    // Now let a worker run the queue: the job runs under the device's identity.
    const worker = node.startWorker();
    try {
      const done = await waitForInvocation(node, id);
      expect(done).toMatchObject({ status: "succeeded", principal: keys.device.id });
      await node.platform.security.audit.flush();
      const { entries } = await node.platform.security.audit.query({
        action: "invocation",
        order: "desc",
        limit: 1000,
      });
      const entry = entries.find((e) => (e.details as { invocation?: string } | null)?.invocation === id);
      expect(entry).toMatchObject({
        actor: keys.device.id,
        role: "device",
        target: "echo",
        outcome: "succeeded",
      });
    } finally {
      await worker.close(2000);
    }
  });

  it("the run-time re-check refuses a job whose principal lost the right to run it", async () => {
    // A job forged (or left over) with a principal that may not invoke telemetry: the
    // worker's re-check in the one invocation path fails it permanently instead of running it.
    const id = uuidv7();
    await node.platform.invocations.insert({
      id,
      function: "telemetry",
      trigger: "http",
      status: "queued",
      attempt: 0,
      maxAttempts: 1,
      input: JSON.stringify({ device: "pump-1", metric: "temp_c", value: 1 }),
      principal: keys.device.id,
      nodeId: node.platform.node().id,
      queuedAt: Date.now(),
    });
    await node.platform.invoker.runJob({
      id,
      payload: {
        invocationId: id,
        function: "telemetry",
        input: { device: "pump-1", metric: "temp_c", value: 1 },
        principal: { id: keys.device.id, role: "device", functions: ["echo"], via: "key" },
        trigger: "http",
      },
      attempt: 1,
      maxAttempts: 1,
      signal: new AbortController().signal,
    });
    const row = await node.platform.invocations.get(id);
    expect(row?.status).toBe("failed");
    expect(JSON.parse(row!.error!)).toMatchObject({ code: "FORBIDDEN", status: 403 });
  });
});

describe("idempotency keys do not cross principals", () => {
  // An Idempotency-Key replays the first result. Scoped only by function, it would hand one
  // caller's output to any other caller who knows (or guesses) the key — a device could
  // read an admin's results without invocations:read.
  it("another credential reusing a key gets neither the result nor a second run", async () => {
    const key = `shared-${uuidv7()}`;
    const json = { "content-type": "application/json", "Idempotency-Key": key };
    const first = await node.app.request("/v1/functions/echo/invoke", {
      ...jsonPost({ message: "admin-only output" }),
      headers: { ...bearer(keys.admin.secret), ...json },
    });
    expect(first.status).toBe(200);
    const { id } = (await first.json()) as { id: string };

    for (const creds of [keys.device.secret, keys.developer.secret]) {
      const reuse = await node.app.request("/v1/functions/echo/invoke", {
        ...jsonPost({ message: "mine" }),
        headers: { ...bearer(creds), ...json },
      });
      const text = await reuse.clone().text();
      expect(text).not.toContain("admin-only output");
      await expectProblem(reuse, 409, "IDEMPOTENCY_KEY_CONFLICT");
      const asyncReuse = await node.app.request("/v1/functions/echo/invoke?mode=async", {
        ...jsonPost({ message: "mine" }),
        headers: { ...bearer(creds), ...json },
      });
      expect(await asyncReuse.clone().text()).not.toContain(id);
      await expectProblem(asyncReuse, 409, "IDEMPOTENCY_KEY_CONFLICT");
    }

    // The owner still gets its replay, with its API key or a JWT minted from it.
    for (const creds of [keys.admin.secret, credentials.jwt.admin]) {
      const again = await node.app.request("/v1/functions/echo/invoke", {
        ...jsonPost({ message: "admin-only output" }),
        headers: { ...bearer(creds), ...json },
      });
      expect(await again.json()).toMatchObject({
        id,
        replayed: true,
        output: { message: "admin-only output" },
      });
    }
  });
});
