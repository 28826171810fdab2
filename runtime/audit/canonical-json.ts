/**
 * Deterministic JSON: object keys sorted by UTF-16 code unit order, no whitespace. Two
 * equal values always serialise to the same bytes, so a hash over this text is stable
 * across processes, restarts and JSON round trips through the database (RFC 8785 in
 * spirit; numbers use JavaScript's own shortest round-trip form, as JSON.stringify does).
 */
export function canonicalJson(value: unknown): string {
  const out = encode(value, new Set());
  // A bare undefined/function has no JSON form; say so rather than hash the string "undefined".
  if (out === undefined) throw new TypeError("canonicalJson: value has no JSON representation");
  return out;
}

function encode(value: unknown, seen: Set<object>): string | undefined {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      throw new TypeError("canonicalJson: BigInt is not JSON");
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
  }
  const obj = value as object;
  // Dates and other objects with toJSON serialise the way JSON.stringify would.
  if (typeof (obj as { toJSON?: unknown }).toJSON === "function") {
    return encode((obj as { toJSON: () => unknown }).toJSON(), seen);
  }
  if (seen.has(obj)) throw new TypeError("canonicalJson: cyclic structure");
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      return `[${obj.map((item) => encode(item, seen) ?? "null").join(",")}]`;
    }
    const parts: string[] = [];
    for (const key of Object.keys(obj).sort()) {
      const encoded = encode((obj as Record<string, unknown>)[key], seen);
      if (encoded !== undefined) parts.push(`${JSON.stringify(key)}:${encoded}`);
    }
    return `{${parts.join(",")}}`;
  } finally {
    seen.delete(obj);
  }
}
