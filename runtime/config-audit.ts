import { createHash } from "node:crypto";
import { eq } from "drizzle-orm";
import { nodeMeta } from "../schema/index.ts";
import { canonicalJson } from "./audit/canonical-json.ts";
import type { AuditLog } from "./audit/log.ts";
import { type Config, describeConfig } from "./config.ts";
import type { Db } from "./db.ts";

/**
 * Audits configuration changes: at start the effective config (secrets masked) is compared
 * with the one the node last ran with, and a `config.changed` entry names what differs.
 */
export async function recordConfig(db: Db, audit: AuditLog, config: Config): Promise<void> {
  if (config.role === "worker") return; // workers share the server's config and database
  const current = describeConfig(config);
  const json = canonicalJson(current);
  const hash = createHash("sha256").update(json).digest("hex");
  const key = `config:${config.role}`;
  const row = await db.query.nodeMeta.findFirst({ where: eq(nodeMeta.key, key) });
  const previous = row
    ? (JSON.parse(row.value) as { hash: string; config: Record<string, unknown> })
    : undefined;
  if (previous?.hash === hash) return;
  const changed = Object.keys(current).filter(
    (k) => JSON.stringify(current[k] ?? null) !== JSON.stringify(previous?.config[k] ?? null),
  );
  await audit.append({
    actor: "system",
    role: "admin",
    action: previous ? "config.changed" : "config.initial",
    target: config.role,
    outcome: "applied",
    details: { changed, config: current },
  });
  const value = JSON.stringify({ hash, config: current });
  await db
    .insert(nodeMeta)
    .values({ key, value })
    .onConflictDoUpdate({ target: nodeMeta.key, set: { value } });
}
