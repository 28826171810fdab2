/**
 * A vector as sync carries it in knowledge_chunks.embedding: the hex of its little-endian
 * float32 bytes — exactly the bytes of an F32_BLOB, so SQLite converts both ways itself
 * (`hex(embedding)` on the server, `unhex(embedding)` into an edge's index) and the swap of
 * a reindex can ship all of a collection's vectors in one statement.
 */
export function encodeVector(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex");
}

/** Characters of the hex text of a `dimension`-float32 vector. */
export const encodedLength = (dimension: number): number => dimension * 8;
