import { type Span, SpanStatusCode, trace } from "@opentelemetry/api";

/**
 * Spans go through @opentelemetry/api only: without an SDK registered they are no-ops
 * (nothing leaves the box); an operator who configures an OTLP exporter gets them.
 */
export const tracer = trace.getTracer("sutazai");

export async function withSpan<T>(
  name: string,
  attributes: Record<string, string | number | boolean>,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      const result = await fn(span);
      span.setStatus({ code: SpanStatusCode.OK });
      return result;
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
      throw err;
    } finally {
      span.end();
    }
  });
}
