import type { Client, InStatement, ResultSet, Transaction } from "@libsql/client";

/*
 * Every write the sync layer makes to a database goes through one lane, one at a time.
 * The local libSQL driver is synchronous: a statement that finds the database locked
 * busy-waits ON THE EVENT LOOP. So if a second sync write started while one of our
 * transactions was open (between two of its awaits), the process would freeze until the
 * busy timeout — the transaction holding the lock cannot run to release it — and then
 * fail with SQLITE_BUSY. Our transactions do no I/O while open, so serializing our own
 * writes is enough for them never to meet each other. (Other code in the process should
 * likewise write with single statements or client.batch(), which cannot interleave.)
 */
const lanes = new WeakMap<Client, Promise<unknown>>();

/** Runs `fn` after every earlier lane task on this client has settled. Never nest. */
export function inLane<T>(client: Client, fn: () => Promise<T>): Promise<T> {
  const run = (lanes.get(client) ?? Promise.resolve()).then(fn, fn);
  lanes.set(
    client,
    run.catch(() => {}),
  );
  return run;
}

/** A write transaction in the lane: committed if `fn` returns, rolled back if it throws. */
export function writeTransaction<T>(client: Client, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  return inLane(client, async () => {
    const tx = await client.transaction("write");
    try {
      const result = await fn(tx);
      await tx.commit();
      return result;
    } catch (err) {
      await tx.rollback().catch(() => {});
      throw err;
    } finally {
      tx.close();
    }
  });
}

export const writeStatement = (client: Client, stmt: InStatement): Promise<ResultSet> =>
  inLane(client, () => client.execute(stmt));

export const writeBatch = (client: Client, stmts: InStatement[]): Promise<ResultSet[]> =>
  inLane(client, () => client.batch(stmts, "write"));
