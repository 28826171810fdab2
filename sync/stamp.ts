/**
 * Hybrid logical clock values and the stamps merge() compares. Pure, no I/O.
 *
 * An HLC is 64 bits: unix ms << 16 | a 16-bit counter. It does not fit a JS number (ms is
 * about 2^41, so the value is about 2^57), hence bigint in JS, INTEGER in SQLite, and a
 * fixed-width 16-digit hex string on the wire and in stamps. Fixed width makes string
 * order equal numeric order, so a stamp "<hex16>:<site>" orders by (HLC, site) with a
 * plain string comparison — in JS and in SQL alike.
 */
export type Hlc = bigint;
/** "<hlc as 16 hex digits>:<site id>"; "" is the stamp of a value whose write is unknown (oldest). */
export type Stamp = string;

export const NO_STAMP: Stamp = "";
export const HLC_HEX = /^[0-9a-f]{16}$/;

export const hlcFromParts = (ms: number, counter = 0): Hlc => (BigInt(ms) << 16n) | BigInt(counter);
export const hlcToHex = (hlc: Hlc): string => hlc.toString(16).padStart(16, "0");
export const hlcFromHex = (hex: string): Hlc => BigInt(`0x${hex}`);
/** The physical (ms) part of a hex HLC; the top 48 bits fit a double exactly. */
export const hexMs = (hex: string): number => Number.parseInt(hex.slice(0, 12), 16);

export const stampOf = (hlcHex: string, site: string): Stamp => `${hlcHex}:${site}`;
export const stampHlc = (stamp: Stamp): string => stamp.slice(0, 16);
export const stampSite = (stamp: Stamp): string => stamp.slice(17);
export const stampMs = (stamp: Stamp): number => (stamp ? hexMs(stamp) : 0);
export const maxStamp = (a: Stamp | undefined, b: Stamp | undefined): Stamp | undefined =>
  a === undefined ? b : b === undefined ? a : a >= b ? a : b;
