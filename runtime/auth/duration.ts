import { AppError } from "../errors.ts";

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
// Ten years: long enough for any real key, short enough that `now + ms` stays exact.
const MAX_MS = 3650 * UNIT_MS.d;

/**
 * Parses `--expires 30d`-style durations: a positive integer and one unit of s, m, h or d.
 * Deliberately strict (no "1h30m", no bare numbers) so a typo cannot silently become
 * "expires in 30 seconds" instead of "in 30 days".
 */
export function parseDuration(text: string): number {
  const match = /^(\d{1,9})([smhd])$/.exec(text.trim());
  const ms = match ? Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS] : Number.NaN;
  if (!(ms > 0) || ms > MAX_MS) {
    throw new AppError(
      400,
      "REQUEST_INVALID",
      `Invalid duration "${text.slice(0, 40)}": use a positive number followed by s, m, h or d (e.g. 30d), at most 3650d.`,
    );
  }
  return ms;
}
