import { INVALID_SPAN_CONTEXT, type Span, SpanStatusCode, trace } from "@opentelemetry/api";

/**
 * Spans go through @opentelemetry/api only: without an SDK registered they are no-ops
 * (nothing leaves the box); an operator who configures an OTLP exporter gets them.
 */
export const tracer = trace.getTracer("sutazai");

const NOOP_SPAN = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** True once an SDK has registered a tracer provider; until then spans are skipped outright. */
function tracingEnabled(): boolean {
  const provider = trace.getTracerProvider() as { getDelegateTracer?: (name: string) => unknown };
  return (
    typeof provider.getDelegateTracer !== "function" || provider.getDelegateTracer("sutazai") !== undefined
  );
}

export async function withSpan<T>(
  name: string,
  attributes: Record<string, string | number | boolean>,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  // Even a no-op active span costs a context switch per call on the hot path.
  if (!tracingEnabled()) return fn(NOOP_SPAN);
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
