import { eq } from "drizzle-orm";
import { nodeMeta } from "../schema/index.ts";
import type { Db } from "./db.ts";
import { uuidv7 } from "./ids.ts";

/** A node's id is made once and kept in its database, so it survives restarts and moves. */
export async function loadNodeId(db: Db): Promise<string> {
  const fresh = uuidv7();
  await db.insert(nodeMeta).values({ key: "node_id", value: fresh }).onConflictDoNothing();
  const row = await db.query.nodeMeta.findFirst({ where: eq(nodeMeta.key, "node_id") });
  return row!.value;
}
