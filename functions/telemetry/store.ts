import { and, asc, desc, eq, gte, lte, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../../runtime/db.ts";
import { telemetryReadings } from "../../schema/index.ts";
import type { ScanRange, SeriesRange } from "./ranges.ts";
import type { SeriesStats, StoredReading } from "./schema.ts";
import { type ShiftedSums, sampleStddev } from "./stats.ts";

/**
 * Rows per INSERT statement: multi-row INSERTs inside one batch (one transaction), 500
 * rows × 5 bound parameters, far below SQLite's limit. (Passing the batch as one JSON
 * parameter to `INSERT … SELECT FROM json_each(?)` measured ~1.5x faster, but SQLite's
 * text-to-double parsing is off by one ulp for ~0.02% of values: bound parameters store
 * exactly what the device sent.)
 */
export const INSERT_CHUNK = 500;

/** Most series one stats question covers (a device-wide query lists at most this many metrics). */
export const MAX_SERIES = 1_000;

export type NewReading = StoredReading;

/**
 * Rolling window sums for every reading of a batch, computed by SQL window functions:
 * COUNT/SUM over `RANGE windowMs PRECEDING` per series, i.e. the readings in
 * [ts - windowMs, ts] — the reading itself and its peers with the same ts included (the
 * caller removes the reading's own contribution). Sums are shifted per range (ShiftedSums).
 * The batch travels as JSON parameters, so the statement size does not grow with it.
 */
function baselineSumsQuery(db: Db, ids: string[], ranges: ScanRange[], windowMs: number) {
  return db.all<{ id: string; shift: number; n: number; s: number; ss: number }>(sql`
    WITH ranges AS MATERIALIZED (
      SELECT json_extract(value, '$.device') AS device, json_extract(value, '$.metric') AS metric,
             json_extract(value, '$.from') AS lo, json_extract(value, '$.until') AS hi,
             json_extract(value, '$.shift') AS shift
      FROM json_each(${JSON.stringify(ranges)})
    ),
    windowed AS (
      SELECT r.id AS id, ranges.shift AS shift,
             COUNT(*) OVER w AS n,
             SUM(r.value - ranges.shift) OVER w AS s,
             SUM((r.value - ranges.shift) * (r.value - ranges.shift)) OVER w AS ss
      -- CROSS JOIN pins the ranges as the outer loop: one index seek per range
      FROM ranges CROSS JOIN telemetry_readings AS r
      WHERE r.device = ranges.device AND r.metric = ranges.metric AND r.ts BETWEEN ranges.lo AND ranges.hi
      WINDOW w AS (PARTITION BY r.device, r.metric ORDER BY r.ts RANGE BETWEEN ${windowMs} PRECEDING AND CURRENT ROW)
    )
    -- shift is returned as SQLite parsed it, so the caller removes a reading with the same shift
    SELECT id, shift, n, s, ss FROM windowed WHERE id IN (SELECT value FROM json_each(${JSON.stringify(ids)}))
  `);
}

/**
 * Stores a batch and computes its rolling window sums in ONE transaction (libSQL batch):
 * either every reading is stored and scored, or nothing is stored. Returns the sums by id.
 * The readings' invocation_id stays NULL: a synchronous invocation's row is written only
 * after the handler returns, so a foreign key to it would fail here.
 */
export async function insertAndScan(
  db: Db,
  readings: readonly NewReading[],
  ranges: ScanRange[],
  windowMs: number,
): Promise<Map<string, ShiftedSums>> {
  const inserts: BatchItem<"sqlite">[] = [];
  for (let i = 0; i < readings.length; i += INSERT_CHUNK) {
    inserts.push(db.insert(telemetryReadings).values(readings.slice(i, i + INSERT_CHUNK)));
  }
  const scan = baselineSumsQuery(
    db,
    readings.map((r) => r.id),
    ranges,
    windowMs,
  );
  // A batch runs its statements in order, so the scan sees the rows inserted before it.
  const items: BatchItem<"sqlite">[] = [...inserts, scan];
  const results = await db.batch(items as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
  const rows = results[results.length - 1] as Awaited<typeof scan>;
  const sums = new Map<string, ShiftedSums>();
  for (const row of rows) {
    sums.set(row.id, {
      count: Number(row.n),
      shift: Number(row.shift),
      sum: Number(row.s),
      sumSq: Number(row.ss),
    });
  }
  return sums;
}

/**
 * count, mean, min, max and sample stddev of each range, in the order given (a range with
 * no readings gets count 0 and nulls). Two passes in SQL — the mean, then the squared
 * deviations from it — which stays accurate where Σv² - (Σv)²/n cancels catastrophically,
 * and never loads rows into JS.
 */
export async function seriesStats(db: Db, ranges: readonly SeriesRange[]): Promise<SeriesStats[]> {
  if (ranges.length === 0) return [];
  const rows = await db.all<{ idx: number; n: number; mean: number; lo: number; hi: number; m2: number }>(sql`
    WITH ranges AS MATERIALIZED (
      SELECT key AS idx, json_extract(value, '$.device') AS device, json_extract(value, '$.metric') AS metric,
             json_extract(value, '$.from') AS lo, json_extract(value, '$.until') AS hi
      FROM json_each(${JSON.stringify(ranges)})
    ),
    w AS MATERIALIZED (
      SELECT ranges.idx AS idx, r.value AS value
      FROM ranges CROSS JOIN telemetry_readings AS r
      WHERE r.device = ranges.device AND r.metric = ranges.metric AND r.ts BETWEEN ranges.lo AND ranges.hi
    ),
    m AS (SELECT idx, COUNT(*) AS n, AVG(value) AS mean, MIN(value) AS lo, MAX(value) AS hi FROM w GROUP BY idx)
    SELECT m.idx AS idx, m.n AS n, m.mean AS mean, m.lo AS lo, m.hi AS hi,
           SUM((w.value - m.mean) * (w.value - m.mean)) AS m2
    FROM m JOIN w ON w.idx = m.idx
    GROUP BY m.idx
  `);
  const byIdx = new Map(rows.map((row) => [Number(row.idx), row]));
  return ranges.map((range, idx) => {
    const row = byIdx.get(idx);
    const base = { device: range.device, metric: range.metric, from: range.from, until: range.until };
    if (!row) return { ...base, count: 0, mean: null, min: null, max: null, stddev: null };
    const count = Number(row.n);
    return {
      ...base,
      count,
      mean: Number(row.mean),
      min: Number(row.lo),
      max: Number(row.hi),
      stddev: sampleStddev(count, Number(row.m2)),
    };
  });
}

/** The metrics a device has ever reported, alphabetically (a covering-index scan). */
export async function metricsOf(db: Db, device: string, limit = MAX_SERIES): Promise<string[]> {
  const rows = await db
    .selectDistinct({ metric: telemetryReadings.metric })
    .from(telemetryReadings)
    .where(eq(telemetryReadings.device, device))
    .orderBy(asc(telemetryReadings.metric))
    .limit(limit);
  return rows.map((r) => r.metric);
}

/** The newest readings of a device (optionally one metric) inside [from, until], newest first. */
export async function recentReadings(
  db: Db,
  where: { device: string; metric?: string; from: number; until: number },
  limit: number,
): Promise<StoredReading[]> {
  if (limit <= 0) return [];
  const t = telemetryReadings;
  const conditions: SQL[] = [eq(t.device, where.device), gte(t.ts, where.from), lte(t.ts, where.until)];
  if (where.metric !== undefined) conditions.push(eq(t.metric, where.metric));
  return (
    db
      .select({ id: t.id, device: t.device, metric: t.metric, value: t.value, ts: t.ts })
      .from(t)
      .where(and(...conditions))
      // uuidv7 ids break ties between readings with the same ts in arrival order
      .orderBy(desc(t.ts), desc(t.id))
      .limit(limit)
  );
}
