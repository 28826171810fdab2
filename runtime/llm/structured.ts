import { z } from "zod";
import { AppError, type FieldError, fieldErrors } from "../errors.ts";
import { llmErrors } from "./errors.ts";
import type { ChatMessage } from "./types.ts";

/**
 * Structured output: a model asked for JSON matching a schema may still answer something
 * else (Ollama's constrained decoding is skipped by some models and templates, the grammar
 * cannot enforce every keyword, maxTokens can cut an object in half). So every answer is
 * parsed and validated here, and the providers re-ask once with the errors.
 *
 * Validation uses zod's z.fromJSONSchema (zod >= 4.2; documented as semi-experimental, so the
 * schemas we emit stay in the common subset: type, properties, required, items, enum,
 * anyOf, min/max, additionalProperties).
 */
export type StructuredCheck =
  | { ok: true; value: unknown }
  | { ok: false; reason: string; errors: FieldError[] };

const compiled = new Map<string, z.ZodType>();

function compile(schema: Record<string, unknown>): z.ZodType {
  const key = JSON.stringify(schema);
  let validator = compiled.get(key);
  if (!validator) {
    try {
      validator = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
    } catch (err) {
      throw new AppError(
        400,
        "LLM_FORMAT_UNSUPPORTED",
        `The JSON schema given as \`format\` cannot be used: ${(err as Error).message}`,
      );
    }
    if (compiled.size > 200) compiled.clear(); // schemas are few and static; this only bounds a misuse
    compiled.set(key, validator);
  }
  return validator;
}

/** Throws 400 LLM_FORMAT_UNSUPPORTED before any model time is spent on an unusable schema. */
export function assertUsableSchema(schema: Record<string, unknown>): void {
  compile(schema);
}

export function checkStructured(text: string, schema: Record<string, unknown>): StructuredCheck {
  let value: unknown;
  try {
    value = JSON.parse(stripFences(text));
  } catch (err) {
    const reason = `it is not valid JSON (${(err as Error).message})`;
    return { ok: false, reason, errors: [{ path: "(root)", message: reason }] };
  }
  const parsed = compile(schema).safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data };
  const errors = fieldErrors(parsed.error.issues);
  return {
    ok: false,
    reason: `it does not match the schema: ${errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`,
    errors,
  };
}

/** Some models wrap JSON in a markdown fence even when told not to; accept that much. */
function stripFences(text: string): string {
  const fenced = /^\s*```(?:json)?\s*([\s\S]*?)\s*```\s*$/i.exec(text);
  return fenced?.[1] ?? text;
}

/** What the model is told when its first answer was rejected. */
export function retryInstruction(
  check: Extract<StructuredCheck, { ok: false }>,
  schema: Record<string, unknown>,
): string {
  return (
    `Your previous answer was rejected because ${check.reason}. ` +
    `Answer again with only a JSON value that matches this JSON schema, and nothing else:\n${JSON.stringify(schema)}`
  );
}

/** A chat re-ask: the conversation, the rejected answer, and what was wrong with it. */
export function retryMessages(messages: ChatMessage[], retry: StructuredRetry | null): ChatMessage[] {
  if (!retry) return messages;
  return [
    ...messages,
    { role: "assistant", content: retry.previous },
    { role: "user", content: retry.instruction },
  ];
}

/** A completion re-ask: the prompt, the rejected answer, and what was wrong with it. */
export function retryPrompt(prompt: string, retry: StructuredRetry | null): string {
  return retry ? `${prompt}\n\nYour previous answer:\n${retry.previous}\n\n${retry.instruction}` : prompt;
}

export interface StructuredRetry {
  previous: string;
  instruction: string;
}

export function outputInvalid(check: Extract<StructuredCheck, { ok: false }>, text: string): AppError {
  const excerpt = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  return llmErrors.outputInvalid(
    `The model's answer was not valid structured output twice in a row: ${check.reason}. Last answer: ${JSON.stringify(excerpt)}`,
    check.errors,
  );
}

/**
 * Runs `attempt` and validates its text against `schema`; on failure runs it once more with
 * the instruction to fix it, then gives up with LLM_OUTPUT_INVALID.
 * `attempt(null)` is the first try; `attempt({previous, instruction})` the re-ask.
 */
export async function withStructuredRetry<R extends object>(
  schema: Record<string, unknown>,
  textOf: (result: R) => string,
  attempt: (retry: StructuredRetry | null) => Promise<R>,
): Promise<R & { json: unknown }> {
  assertUsableSchema(schema);
  const first = await attempt(null);
  const firstCheck = checkStructured(textOf(first), schema);
  if (firstCheck.ok) return { ...first, json: firstCheck.value };
  const second = await attempt({
    previous: textOf(first),
    instruction: retryInstruction(firstCheck, schema),
  });
  const secondCheck = checkStructured(textOf(second), schema);
  if (secondCheck.ok) return { ...second, json: secondCheck.value };
  throw outputInvalid(secondCheck, textOf(second));
}
