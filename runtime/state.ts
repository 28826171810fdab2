import { and, asc, eq, gt } from "drizzle-orm";
import { state } from "../schema/index.ts";
import type { Db } from "./db.ts";

export interface StateEntry {
  key: string;
  value: unknown;
  updatedAt: number;
}

/** Key-value state (JSON values) shared by functions as `ctx.state` and by /v1/state. */
export interface StateStore {
  get<T = unknown>(namespace: string, key: string): Promise<T | undefined>;
  getEntry(namespace: string, key: string): Promise<StateEntry | undefined>;
  put(namespace: string, key: string, value: unknown): Promise<void>;
  delete(namespace: string, key: string): Promise<boolean>;
  list(namespace: string, opts?: { after?: string; limit?: number }): Promise<StateEntry[]>;
}

export function createStateStore(db: Db): StateStore {
  return {
    async get(namespace, key) {
      return (await this.getEntry(namespace, key))?.value as never;
    },
    async getEntry(namespace, key) {
      const row = await db.query.state.findFirst({
        where: and(eq(state.namespace, namespace), eq(state.key, key)),
      });
      return row ? { key: row.key, value: JSON.parse(row.value), updatedAt: row.updatedAt } : undefined;
    },
    async put(namespace, key, value) {
      const json = JSON.stringify(value);
      const updatedAt = Date.now();
      await db
        .insert(state)
        .values({ namespace, key, value: json, updatedAt })
        .onConflictDoUpdate({ target: [state.namespace, state.key], set: { value: json, updatedAt } });
    },
    async delete(namespace, key) {
      const res = await db.delete(state).where(and(eq(state.namespace, namespace), eq(state.key, key)));
      return res.rowsAffected > 0;
    },
    async list(namespace, opts = {}) {
      const rows = await db
        .select()
        .from(state)
        .where(
          opts.after
            ? and(eq(state.namespace, namespace), gt(state.key, opts.after))
            : eq(state.namespace, namespace),
        )
        .orderBy(asc(state.key))
        .limit(Math.min(opts.limit ?? 100, 1000));
      return rows.map((r) => ({ key: r.key, value: JSON.parse(r.value), updatedAt: r.updatedAt }));
    },
  };
}
