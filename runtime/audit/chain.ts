import * as nodeCrypto from "node:crypto";

/** prev_hash of the first entry. */
export const GENESIS_HASH = "0".repeat(64);

/** The hashed columns of an audit row (everything but prev_hash, which prefixes the hash input, and hash). */
export interface ChainFields {
  seq: number;
  id: string;
  ts: number;
  actor: string;
  role: string | null;
  action: string;
  target: string | null;
  outcome: string;
  /** exactly the stored text (canonical JSON) or null: the hash covers the stored bytes */
  details: string | null;
}

/**
 * hash = sha256(prev_hash + canonicalJson(entry)), hex. `seq` is part of the entry, so a row
 * moved to another position no longer matches its hash; `prev_hash` links it to the
 * row before, so a deleted or swapped row breaks the link of the row after it. Anyone
 * can recompute this from a raw export of the table.
 */
export function chainHash(prevHash: string, f: ChainFields): string {
  // Every value is a string, number or null and the keys are written in sorted order, so
  // JSON.stringify yields exactly canonicalJson's output at a fraction of its cost (this
  // runs once per audited request). tests/audit-log.test.ts pins the equivalence.
  const entry = JSON.stringify({
    action: f.action,
    actor: f.actor,
    details: f.details,
    id: f.id,
    outcome: f.outcome,
    role: f.role,
    seq: f.seq,
    target: f.target,
    ts: f.ts,
  });
  return sha256Hex(prevHash + entry);
}

// crypto.hash (Node >= 20.12) is a one-shot digest, several times cheaper than createHash for short input.
const sha256Hex: (data: string) => string =
  typeof nodeCrypto.hash === "function"
    ? (data) => nodeCrypto.hash("sha256", data, "hex")
    : (data) => nodeCrypto.createHash("sha256").update(data).digest("hex");
