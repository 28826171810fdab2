import {
  context,
  type Span,
  type SpanOptions,
  type Tracer,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonPost, startTestNode, type TestNode, waitForInvocation } from "./support/test-node.ts";

/** A tracer that records span names and attributes, standing in for an OTel SDK. */
const recorded: Array<{ name: string; attributes: Record<string, unknown>; ended: boolean }> = [];
function recordingSpan(name: string, opts?: SpanOptions): Span {
  const entry: (typeof recorded)[number] = {
    name,
    attributes: { ...(opts?.attributes ?? {}) },
    ended: false,
  };
  recorded.push(entry);
  const span = trace.wrapSpanContext({ traceId: "1".repeat(32), spanId: "2".repeat(16), traceFlags: 1 });
  return Object.assign(Object.create(span), {
    setStatus: () => span,
    recordException: () => {},
    setAttribute: (k: string, v: unknown) => {
      entry.attributes[k] = v;
      return span;
    },
    end: () => {
      entry.ended = true;
    },
  }) as Span;
}
const tracer: Tracer = {
  startSpan: (name, opts) => recordingSpan(name, opts),
  startActiveSpan: ((name: string, opts: SpanOptions, fn: (span: Span) => unknown) => {
    const span = recordingSpan(name, opts);
    return context.with(trace.setSpan(context.active(), span), () => fn(span));
  }) as Tracer["startActiveSpan"],
};
const provider: TracerProvider = { getTracer: () => tracer };

let node: TestNode;
beforeAll(async () => {
  trace.setGlobalTracerProvider(provider);
  node = await startTestNode();
});
afterAll(async () => {
  await node.dispose();
  trace.disable();
});

describe("OpenTelemetry spans", () => {
  it("wrap sync invocations, enqueues and queue runs once a tracer provider is registered", async () => {
    await node.request("/v1/functions/echo/invoke", jsonPost({ message: "traced" }));
    const res = await node.request("/v1/functions/echo/invoke?mode=async", jsonPost({}));
    await waitForInvocation(node, ((await res.json()) as { id: string }).id);
    const names = recorded.map((r) => r.name);
    expect(names).toContain("invoke");
    expect(names).toContain("queue.enqueue");
    expect(names).toContain("queue.run");
    expect(recorded.find((r) => r.name === "invoke")?.attributes["sutazai.function"]).toBe("echo");
    expect(recorded.every((r) => r.ended)).toBe(true);
  });
});
