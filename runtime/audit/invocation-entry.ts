import type { FinishedInvocation } from "../invoke.ts";
import type { AuditInput } from "./log.ts";

/** The audit entry every finished invocation gets; the raw input only when the function opted in. */
export function invocationAuditEntry(event: FinishedInvocation): AuditInput {
  return {
    actor: event.principal.id,
    role: event.principal.role,
    action: "invocation",
    target: event.function,
    outcome: event.status,
    details: {
      invocation: event.id,
      trigger: event.trigger,
      durationMs: event.durationMs,
      ...(event.error ? { error: event.error.code } : {}),
      ...(event.input !== undefined ? { input: event.input } : {}),
    },
  };
}
