import { type ServerType, serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./support/free-port.ts";
import { jsonPost, startTestNode, type TestNode, waitForInvocation } from "./support/test-node.ts";

let server: TestNode;
let edge: TestNode;
let http: ServerType | undefined;
let port: number;

function listen(): Promise<void> {
  return new Promise((resolve) => {
    http = serve({ fetch: server.app.fetch, port, hostname: "127.0.0.1" }, () => resolve());
  });
}
function unlisten(): Promise<void> {
  return new Promise((resolve) => {
    if (!http) return resolve();
    http.close(() => resolve());
    (http as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
    http = undefined;
  });
}

beforeAll(async () => {
  server = await startTestNode({ role: "server" });
  port = await freePort();
  await listen();
  const nodeKey = await server.platform.security.keys.create({
    name: "edge-1",
    role: "node",
    createdBy: "test",
  });
  edge = await startTestNode({
    env: {
      SUTAZAI_SERVER_URL: `http://127.0.0.1:${port}`,
      SUTAZAI_SERVER_KEY: nodeKey.secret,
      SUTAZAI_RETRY_BACKOFF_MS: "50",
    },
  });
});
afterAll(async () => {
  await unlisten();
  await edge.dispose();
  await server.dispose();
});

describe("placement", () => {
  it("placement=server runs the function on the server, as the edge's caller", async () => {
    const res = await edge.request("/v1/functions/echo/invoke?placement=server", jsonPost({ message: "up" }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { id: string; output: { message: string; node: string } };
    expect(body.output.node).toBe(server.platform.node().id);
    // the edge records it too
    const local = (await (await edge.request(`/v1/invocations/${body.id}`)).json()) as { status: string };
    expect(local.status).toBe("succeeded");
    const remote = (await (await server.request("/v1/invocations?function=echo")).json()) as {
      invocations: Array<{ principal: string; idempotencyKey: string }>;
    };
    const forwarded = remote.invocations.find((i) => i.idempotencyKey === `fwd:${body.id}`);
    expect(forwarded?.principal).toMatch(/\//); // <node key>/<caller>
  });

  it("placement=local and auto run on the edge", async () => {
    for (const placement of ["local", "auto"]) {
      const res = await edge.request(`/v1/functions/echo/invoke?placement=${placement}`, jsonPost({}));
      const body = (await res.json()) as { output: { node: string } };
      expect(body.output.node).toBe(edge.platform.node().id);
    }
  });

  it("the edge still enforces the caller's grants before forwarding", async () => {
    const device = await edge.platform.security.keys.create({
      name: "d",
      role: "device",
      functions: ["echo"],
      createdBy: "t",
    });
    const res = await edge.anonymous("/v1/functions/telemetry/invoke?placement=server", {
      ...jsonPost({ device: "x", metric: "y", value: 1 }),
      headers: { authorization: `Bearer ${device.secret}`, "content-type": "application/json" },
    });
    expect(res.status).toBe(403);
  });

  it("only a node credential may speak for someone else on the server", async () => {
    const res = await server.request(
      "/v1/functions/echo/invoke",
      jsonPost({}, { "x-sutazai-on-behalf-of": JSON.stringify({ id: "mallory", role: "admin" }) }),
    );
    expect(res.status).toBe(403);
  });

  it("offline: a server invocation is queued on the edge and runs once the server is back", async () => {
    await unlisten();
    const res = await edge.request(
      "/v1/functions/echo/invoke?placement=server",
      jsonPost({ message: "later" }),
    );
    expect(res.status).toBe(202);
    const { id, placement } = (await res.json()) as { id: string; placement: string };
    expect(placement).toBe("server");
    await new Promise((r) => setTimeout(r, 300));
    expect(
      ((await (await edge.request(`/v1/invocations/${id}`)).json()) as { status: string }).status,
    ).not.toBe("succeeded");
    await listen();
    const done = await waitForInvocation(edge, id, 20_000);
    expect(done).toMatchObject({
      status: "succeeded",
      output: { message: "later", node: server.platform.node().id },
    });
  });

  it("placement=server on an edge without a server is a clear 422", async () => {
    const res = await server.request("/v1/functions/echo/invoke?placement=bogus", jsonPost({}));
    expect(res.status).toBe(400);
    const lonely = await startTestNode();
    try {
      const r = await lonely.request("/v1/functions/echo/invoke?placement=server", jsonPost({}));
      expect(r.status).toBe(422);
      expect(((await r.json()) as { code: string }).code).toBe("NO_SERVER");
    } finally {
      await lonely.dispose();
    }
  });
});
