import { z } from "zod";
import { AppError } from "./errors.ts";
import type { AnyFunction } from "./function.ts";

/** The functions a node serves, by name. */
export class Catalogue {
  private readonly byName = new Map<string, AnyFunction>();

  constructor(functions: AnyFunction[]) {
    for (const fn of functions) {
      if (this.byName.has(fn.name))
        throw new Error(`Two functions are named "${fn.name}": names must be unique.`);
      this.byName.set(fn.name, fn);
    }
  }

  get(name: string): AnyFunction | undefined {
    return this.byName.get(name);
  }

  /** The function, or a 404 problem naming what exists. */
  require(name: string): AnyFunction {
    const fn = this.byName.get(name);
    if (!fn) {
      throw new AppError(
        404,
        "FUNCTION_NOT_FOUND",
        `No function named "${truncate(name)}". GET /v1/functions lists the ${this.byName.size} available.`,
      );
    }
    return fn;
  }

  list(): AnyFunction[] {
    return [...this.byName.values()];
  }

  /** What GET /v1/functions shows: schemas as JSON Schema. */
  describe(fn: AnyFunction) {
    return {
      name: fn.name,
      description: fn.description,
      permission: fn.permission ?? "functions:invoke",
      timeoutMs: fn.timeoutMs,
      retries: fn.retries,
      input: toJsonSchema(fn.input),
      output: toJsonSchema(fn.output),
      routes: fn.app ? `/fn/${fn.name}` : undefined,
    };
  }
}

const schemaCache = new WeakMap<object, unknown>();
function toJsonSchema(schema: z.ZodType): unknown {
  let json = schemaCache.get(schema);
  if (!json) {
    json = z.toJSONSchema(schema, { unrepresentable: "any", io: "input" });
    schemaCache.set(schema, json);
  }
  return json;
}

export const truncate = (s: string, n = 80) => (s.length > n ? `${s.slice(0, n)}…` : s);
