import type { Client, InStatement, ResultSet } from "@libsql/client";
import { AppError } from "../runtime/errors.ts";
import { writeStatement } from "./lane.ts";
import { type Hlc, hexMs, hlcFromHex } from "./stamp.ts";

/** Anything that runs a statement: the client, or an open transaction. */
export interface Exec {
  execute(stmt: InStatement): Promise<ResultSet>;
}

/** A remote clock further ahead of our wall clock than this is refused, never adopted. */
export const MAX_DRIFT_MS = 5 * 60_000;

/**
 * This replica's wall clock in SQL (ms). Triggers and the skew check both use it, so a
 * replica has exactly one notion of "now"; `wall_offset_ms` lets tests skew it.
 */
export const WALL_MS_SQL = "(CAST(unixepoch('subsec') * 1000 AS INTEGER) + wall_offset_ms)";
/** Advances the persisted HLC for a local event; the capture triggers run this too. */
export const TICK_SQL = `UPDATE sync_clock SET hlc = MAX(hlc + 1, ${WALL_MS_SQL} << 16) WHERE id = 1`;

/** A change or batch stamped too far in the future. Counted by the clock that refused it. */
export class ClockSkewError extends AppError {
  readonly aheadMs: number;
  constructor(remoteMs: number, localMs: number, maxDriftMs: number, from: string) {
    const aheadMs = remoteMs - localMs;
    super(
      409,
      "CLOCK_SKEW",
      `Refused changes from ${from}: their clock is ${Math.round(aheadMs / 1000)} s ahead of this node's ` +
        `(${new Date(remoteMs).toISOString()} vs ${new Date(localMs).toISOString()}); at most ` +
        `${maxDriftMs / 1000} s is tolerated. Fix the clock of whichever machine is wrong (NTP); ` +
        "nothing was applied and nothing is lost - the changes are retried.",
      { title: "Clock Skew" },
    );
    this.name = "ClockSkewError";
    this.aheadMs = aheadMs;
  }
}

/**
 * The persisted hybrid logical clock of one replica (row id 1 of sync_clock). All state is
 * in the database, so several processes on one database file share one clock, and SQL
 * triggers advance it in the same transaction as the write they stamp.
 */
export class HybridClock {
  /** far-future remote clocks refused since this process started */
  rejected = 0;

  constructor(
    private readonly client: Client,
    readonly siteId: string,
    readonly maxDriftMs: number = MAX_DRIFT_MS,
  ) {}

  /** Writes run in the given transaction, or in the sync write lane (see lane.ts). */
  private write(stmt: InStatement, tx?: Exec): Promise<ResultSet> {
    return tx ? tx.execute(stmt) : writeStatement(this.client, stmt);
  }

  /** A fresh timestamp for a local event. */
  async now(tx?: Exec): Promise<Hlc> {
    const rs = await this.write(`${TICK_SQL} RETURNING printf('%016x', hlc) AS h`, tx);
    return hlcFromHex(String(rs.rows[0]!.h));
  }

  /** The last timestamp issued or received, without advancing. */
  async current(exec: Exec = this.client): Promise<Hlc> {
    const rs = await exec.execute("SELECT printf('%016x', hlc) AS h FROM sync_clock WHERE id = 1");
    return hlcFromHex(String(rs.rows[0]!.h));
  }

  /** This replica's wall clock (ms), including any simulated offset. */
  async wallMs(exec: Exec = this.client): Promise<number> {
    const rs = await exec.execute(`SELECT ${WALL_MS_SQL} AS ms FROM sync_clock WHERE id = 1`);
    return Number(rs.rows[0]!.ms);
  }

  /**
   * Refuses a remote HLC (hex) more than maxDriftMs ahead of our wall clock. Adopting it
   * would drag every later local stamp into the future and let one bad clock win every
   * conflict, so the whole batch is refused instead.
   */
  async check(remoteHex: string, from: string, exec: Exec = this.client): Promise<void> {
    const wall = await this.wallMs(exec);
    const remoteMs = hexMs(remoteHex);
    if (remoteMs > wall + this.maxDriftMs) {
      this.rejected++;
      throw new ClockSkewError(remoteMs, wall, this.maxDriftMs, from);
    }
  }

  /** Checks a remote HLC, then advances past it: every later local stamp sorts after it. */
  async receive(remoteHex: string, from: string, tx?: Exec): Promise<Hlc> {
    await this.check(remoteHex, from, tx);
    const rs = await this.write(
      {
        sql: `UPDATE sync_clock SET hlc = MAX(hlc + 1, ?, ${WALL_MS_SQL} << 16) WHERE id = 1 RETURNING printf('%016x', hlc) AS h`,
        args: [hlcFromHex(remoteHex) + 1n],
      },
      tx,
    );
    return hlcFromHex(String(rs.rows[0]!.h));
  }

  /** Skews this replica's wall clock (tests, drills). */
  async setWallOffset(ms: number): Promise<void> {
    await this.write({
      sql: "UPDATE sync_clock SET wall_offset_ms = ? WHERE id = 1",
      args: [Math.trunc(ms)],
    });
  }
}
