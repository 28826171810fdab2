/**
 * `$ref`s: a step's input may contain `{"$ref": "steps.<id>.output.<path>"}` anywhere
 * (nested in objects and arrays); at run time each is replaced by the value at that path of
 * an earlier step's output. Path segments are dot-separated; array items by index
 * (`steps.plan.output.items.0.name`). Without a path the whole output is used.
 */

const REF_RE = /^steps\.([A-Za-z][A-Za-z0-9_-]{0,63})\.output(?:\.(.+))?$/;

/** Inputs nest no deeper than this; deeper JSON would only serve to exhaust the stack. */
export const MAX_INPUT_DEPTH = 64;

export interface FoundRef {
  /** where in the step's input, e.g. `input.items.0` */
  at: string;
  ref: string;
  /** the referenced step, when the ref is well-formed */
  stepId?: string;
  /** why it is malformed, when it is */
  problem?: string;
}

export class RefError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RefError";
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isRefObject = (v: unknown): v is Record<string, unknown> & { $ref: unknown } =>
  isObject(v) && Object.hasOwn(v, "$ref");

/** Every `$ref` in a step's input, well-formed or not (validation reports the bad ones). */
export function findRefs(input: unknown): FoundRef[] {
  const found: FoundRef[] = [];
  walk(input, "input", 0, (value, at) => {
    const ref = value.$ref;
    if (typeof ref !== "string") {
      found.push({
        at,
        ref: String(ref),
        problem: `"$ref" at ${clip(at)} must be a string like "steps.<id>.output".`,
      });
      return;
    }
    if (Object.keys(value).length > 1) {
      found.push({ at, ref, problem: `The $ref object at ${clip(at)} must have no other keys than "$ref".` });
      return;
    }
    const m = REF_RE.exec(ref);
    if (!m || m[2]?.split(".").includes("")) {
      found.push({
        at,
        ref,
        problem: `$ref "${clip(ref)}" at ${clip(at)} must look like "steps.<id>.output" or "steps.<id>.output.<path>".`,
      });
      return;
    }
    found.push({ at, ref, stepId: m[1] });
  });
  return found;
}

/**
 * The input with every `$ref` replaced by the value it points at. `outputs` holds the
 * outputs of the steps this one may read. Throws RefError naming the ref when a path is
 * missing: a plan that reads `items.3` of a two-item list must fail loudly, not pass `null`.
 */
export function resolveRefs(input: unknown, outputs: ReadonlyMap<string, unknown>): unknown {
  return replace(input, "input", 0, (value, at) => {
    const ref = String(value.$ref);
    const m = REF_RE.exec(ref);
    if (!m || !outputs.has(m[1]!))
      throw new RefError(`$ref "${clip(ref)}" at ${clip(at)} names no finished step this one depends on.`);
    let current: unknown = outputs.get(m[1]!);
    const walked: string[] = [];
    for (const segment of m[2]?.split(".") ?? []) {
      current = child(current, segment);
      walked.push(segment);
      if (current === undefined) {
        throw new RefError(
          `$ref "${clip(ref)}" at ${clip(at)}: the output of step "${m[1]}" has no "${clip(walked.join("."))}".`,
        );
      }
    }
    return current;
  });
}

function child(value: unknown, segment: string): unknown {
  if (Array.isArray(value)) return /^\d+$/.test(segment) ? value[Number(segment)] : undefined;
  if (isObject(value) && Object.hasOwn(value, segment)) return value[segment];
  return undefined;
}

function walk(
  value: unknown,
  at: string,
  depth: number,
  onRef: (ref: Record<string, unknown>, at: string) => void,
): void {
  if (depth > MAX_INPUT_DEPTH) {
    throw new RefError(`The input nests deeper than ${MAX_INPUT_DEPTH} levels at ${clip(at)}.`);
  }
  if (isRefObject(value)) {
    onRef(value, at);
  } else if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) walk(item, `${at}.${i}`, depth + 1, onRef);
  } else if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) walk(v, `${at}.${k}`, depth + 1, onRef);
  }
}

function replace(
  value: unknown,
  at: string,
  depth: number,
  onRef: (ref: Record<string, unknown>, at: string) => unknown,
): unknown {
  if (depth > MAX_INPUT_DEPTH)
    throw new RefError(`The input nests deeper than ${MAX_INPUT_DEPTH} levels at ${clip(at)}.`);
  if (isRefObject(value)) return onRef(value, at);
  if (Array.isArray(value)) return value.map((item, i) => replace(item, `${at}.${i}`, depth + 1, onRef));
  if (isObject(value)) {
    // defineProperty, not assignment: a key named "__proto__" stays a plain key.
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, k, {
        value: replace(v, `${at}.${k}`, depth + 1, onRef),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}

const clip = (s: string, n = 120) => (s.length > n ? `${s.slice(0, n)}…` : s);
