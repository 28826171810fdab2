/**
 * A vector as sync carries it in knowledge_chunks.embedding: base64 of its little-endian
 * float32 bytes — exact (no decimal round trip) and a third the size of a JSON array.
 */
export function encodeVector(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64");
}

/** The vector back, or null when the text is not `dimension` float32s (a damaged or foreign row). */
export function decodeVector(text: string, dimension: number): Float32Array | null {
  const bytes = Buffer.from(text, "base64");
  if (bytes.byteLength !== dimension * 4) return null;
  // Copied into its own buffer: Buffer.from may hand back a slice of a shared pool at any offset.
  const out = new Float32Array(dimension);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}
