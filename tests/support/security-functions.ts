import { z } from "zod";
import { defineFunction } from "../../runtime/function.ts";

/**
 * A function that opts in to having its raw input in the audit log, so hostile text (NUL,
 * lone surrogates, quotes) travels into audit_log.details through the SQL JSON insert path.
 */
export const audited = defineFunction({
  name: "audited",
  description: "Returns its text; its input is recorded in the audit log",
  input: z.object({ text: z.string().max(10_000) }).passthrough(),
  output: z.object({ text: z.string() }),
  auditInput: true,
  handler: ({ text }) => ({ text }),
});
