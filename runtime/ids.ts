import { randomBytes } from "node:crypto";

let lastMs = 0;
let seq = 0;

// randomBytes per id costs a syscall-sized chunk of the hot path; draw from a pool instead.
const POOL_IDS = 256;
let pool = randomBytes(16 * POOL_IDS);
let poolAt = POOL_IDS;
function random16(): Buffer {
  if (poolAt >= POOL_IDS) {
    pool = randomBytes(16 * POOL_IDS);
    poolAt = 0;
  }
  const out = Buffer.from(pool.subarray(poolAt * 16, poolAt * 16 + 16));
  poolAt += 1;
  return out;
}

/**
 * UUIDv7 (RFC 9562): 48-bit unix ms, then a 12-bit counter in rand_a so ids made in
 * the same millisecond by this process still sort in creation order.
 */
export function uuidv7(now: number = Date.now()): string {
  if (now <= lastMs) {
    seq = (seq + 1) & 0xfff;
    if (seq === 0) lastMs += 1; // counter wrapped: borrow the next millisecond
    now = lastMs;
  } else {
    lastMs = now;
    seq = random16()[0]! & 0x7f; // random start keeps ids from different processes apart
  }
  const bytes = random16();
  bytes[0] = (now / 2 ** 40) & 0xff;
  bytes[1] = (now / 2 ** 32) & 0xff;
  bytes[2] = (now >>> 24) & 0xff;
  bytes[3] = (now >>> 16) & 0xff;
  bytes[4] = (now >>> 8) & 0xff;
  bytes[5] = now & 0xff;
  bytes[6] = 0x70 | ((seq >>> 8) & 0x0f);
  bytes[7] = seq & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const isUuid = (s: string): boolean => UUID_RE.test(s);
