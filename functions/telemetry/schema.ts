import { z } from "zod";

/** Most readings one request may carry; a gateway flushing a longer backlog splits it. */
export const MAX_BATCH = 5_000;
/** Device clocks drift; a reading further ahead than this is a broken clock, not the future. */
export const MAX_FUTURE_MS = 24 * 60 * 60 * 1000;
/** Timestamps before 2000-01-01 are almost always unix *seconds* sent where milliseconds belong. */
export const MIN_TS = Date.UTC(2000, 0, 1);
export const DEFAULT_WINDOW_MS = 60 * 60 * 1000;
export const MAX_WINDOW_MS = 30 * 24 * 60 * 60 * 1000;
export const DEFAULT_Z_THRESHOLD = 3;
export const DEFAULT_MIN_SAMPLES = 5;
export const MAX_RECENT = 1_000;

const NAME_RE = /^[A-Za-z0-9._:/-]{1,128}$/;

/** Device and metric names: short, URL- and log-safe, no whitespace. */
export const seriesName = z
  .string()
  .regex(NAME_RE, "must be 1-128 characters of letters, digits and . _ : / -");

/**
 * Unix milliseconds (fractions are floored: `time.time() * 1000` from Python is common)
 * or an ISO 8601 string *with* a time zone — a local time is ambiguous on a gateway.
 */
export const timestamp = z
  .union([z.number(), z.iso.datetime({ offset: true }).transform((s) => Date.parse(s))], {
    error:
      "must be unix milliseconds (a number) or an ISO 8601 string with a time zone, e.g. 2024-05-01T12:00:00Z",
  })
  .transform((ts) => Math.floor(ts))
  .refine((ts) => ts >= MIN_TS, {
    message: "is before the year 2000: send unix milliseconds, not seconds",
  })
  .refine((ts) => ts <= Date.now() + MAX_FUTURE_MS, {
    message: "is more than 1 day in the future: check the device clock",
  });

/** `z.number()` already rejects NaN and ±Infinity; JSON cannot carry them anyway. */
const finiteValue = z.number();

export const readingSchema = z.strictObject({
  device: seriesName,
  metric: seriesName,
  value: finiteValue,
  ts: timestamp.optional(),
});

const options = {
  windowMs: z
    .number()
    .int()
    .min(1_000)
    .max(MAX_WINDOW_MS)
    .default(DEFAULT_WINDOW_MS)
    .describe("rolling window in ms (stats and anomaly baseline); default 1 hour, max 30 days"),
  zThreshold: z
    .number()
    .positive()
    .max(1_000)
    .default(DEFAULT_Z_THRESHOLD)
    .describe("|z| above this flags a reading as an anomaly; default 3"),
  minSamples: z
    .number()
    .int()
    .min(2)
    .max(100_000)
    .default(DEFAULT_MIN_SAMPLES)
    .describe("baseline readings needed before anything is flagged; default 5"),
  anomaliesOnly: z
    .boolean()
    .default(false)
    .describe("answer with the anomalous readings only (keeps answers to large batches small)"),
};

export const queryInputSchema = z.strictObject({
  device: seriesName,
  metric: seriesName.optional().describe("omit to get every metric of the device"),
  until: timestamp.optional().describe("end of the window; default now"),
  recent: z
    .number()
    .int()
    .min(0)
    .max(MAX_RECENT)
    .default(0)
    .describe("also return up to this many newest readings"),
});

/**
 * Three forms, exactly one per request:
 *   single  `{device, metric, value, ts?}`          — one reading
 *   batch   `{readings: [{device, metric, value, ts?}, ...]}` — up to 5,000
 *   query   `{query: {device, metric?, until?, recent?}}`   — stats only, stores nothing
 * plus the shared options (windowMs, zThreshold, minSamples, anomaliesOnly).
 * One object with a cross-field check (rather than a z.union) so a mistake is reported
 * at its own path (`readings.3.value`) instead of as an opaque "invalid union".
 */
export const telemetryInput = z
  .strictObject({
    device: seriesName.optional(),
    metric: seriesName.optional(),
    value: finiteValue.optional(),
    ts: timestamp.optional(),
    readings: z
      .array(readingSchema)
      .min(1, "must hold at least one reading")
      .max(MAX_BATCH, `holds more than ${MAX_BATCH} readings: split the upload into several requests`)
      .optional(),
    query: queryInputSchema.optional(),
    ...options,
  })
  .superRefine((input, ctx) => {
    const single = ["device", "metric", "value", "ts"].filter(
      (k) => input[k as keyof typeof input] !== undefined,
    );
    const forms = [single.length > 0, input.readings !== undefined, input.query !== undefined].filter(
      Boolean,
    ).length;
    if (forms !== 1) {
      ctx.addIssue({
        code: "custom",
        path: [],
        message:
          "send exactly one of: a reading {device, metric, value, ts?}, a batch {readings: [...]}, or a query {query: {device, metric?}}",
      });
      return;
    }
    if (single.length > 0) {
      for (const key of ["device", "metric", "value"] as const) {
        if (input[key] === undefined)
          ctx.addIssue({ code: "custom", path: [key], message: "is required for a reading" });
      }
    }
  })
  .transform((input): TelemetryRequest => {
    const { windowMs, zThreshold, minSamples, anomaliesOnly } = input;
    if (input.query) return { kind: "query", query: input.query, windowMs };
    const readings = input.readings ?? [
      // superRefine has guaranteed device, metric and value for the single form
      { device: input.device!, metric: input.metric!, value: input.value!, ts: input.ts },
    ];
    return { kind: "ingest", readings, windowMs, zThreshold, minSamples, anomaliesOnly };
  });

export type Reading = z.output<typeof readingSchema>;
export type SeriesQuery = z.output<typeof queryInputSchema>;

/** The validated input, normalized: the single form becomes a batch of one. */
export type TelemetryRequest =
  | {
      kind: "ingest";
      readings: Reading[];
      windowMs: number;
      zThreshold: number;
      minSamples: number;
      anomaliesOnly: boolean;
    }
  | { kind: "query"; query: SeriesQuery; windowMs: number };

const nullableNumber = z.number().nullable();

export const seriesStatsSchema = z.object({
  device: z.string(),
  metric: z.string(),
  /** inclusive window bounds, unix ms */
  from: z.number(),
  until: z.number(),
  count: z.number().int(),
  mean: nullableNumber,
  min: nullableNumber,
  max: nullableNumber,
  /** sample standard deviation (n - 1); null below 2 readings */
  stddev: nullableNumber,
});

export const scoredReadingSchema = z.object({
  /** position in the request's batch (0 for the single form) */
  index: z.number().int(),
  id: z.string(),
  device: z.string(),
  metric: z.string(),
  value: z.number(),
  ts: z.number(),
  /** the window before this reading, without the reading itself */
  baseline: z.object({ count: z.number().int(), mean: nullableNumber, stddev: nullableNumber }),
  /** null when undefined: under 2 baseline readings, or a baseline with no spread at all */
  zScore: nullableNumber,
  anomaly: z.boolean(),
});

export const storedReadingSchema = z.object({
  id: z.string(),
  device: z.string(),
  metric: z.string(),
  value: z.number(),
  ts: z.number(),
});

export const telemetryOutput = z.discriminatedUnion("mode", [
  z.object({
    mode: z.literal("ingest"),
    receivedAt: z.number(),
    stored: z.number().int(),
    anomalies: z.number().int(),
    windowMs: z.number(),
    zThreshold: z.number(),
    minSamples: z.number().int(),
    series: z.array(seriesStatsSchema),
    readings: z.array(scoredReadingSchema),
  }),
  z.object({
    mode: z.literal("query"),
    windowMs: z.number(),
    series: z.array(seriesStatsSchema),
    /** newest first, only when `recent` > 0 */
    readings: z.array(storedReadingSchema),
  }),
]);

export type SeriesStats = z.output<typeof seriesStatsSchema>;
export type ScoredReading = z.output<typeof scoredReadingSchema>;
export type StoredReading = z.output<typeof storedReadingSchema>;
export type TelemetryOutput = z.input<typeof telemetryOutput>;
