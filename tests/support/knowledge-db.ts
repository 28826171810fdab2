import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { knowledge } from "../../functions/knowledge/index.ts";
import { type Database, openDatabase } from "../../runtime/db.ts";
import type { FunctionContext } from "../../runtime/function.ts";
import type { LLM } from "../../runtime/llm/types.ts";
import { applyMigrations } from "../../runtime/migrate.ts";
import { makeContext } from "./function-context.ts";

export interface KnowledgeDb {
  database: Database;
  ctx: FunctionContext;
  /** calls the knowledge function's handler with validated input, as admin */
  run<T = Record<string, any>>(input: Record<string, unknown>, ctx?: FunctionContext): Promise<T>;
  dispose(): void;
}

/** A migrated libSQL file in a temp dir and a context around it, for knowledge tests without HTTP. */
export async function knowledgeDb(llm: LLM): Promise<KnowledgeDb> {
  const dir = mkdtempSync(join(tmpdir(), "sutazai-kb-"));
  const database = await openDatabase(join(dir, "kb.db"));
  await applyMigrations(database);
  const ctx = makeContext(database.db, { llm });
  return {
    database,
    ctx,
    run: async (input, c = ctx) => (await knowledge.handler(knowledge.input.parse(input), c)) as never,
    dispose: () => {
      database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A small corpus with known answers. */
export const CORPUS = [
  {
    key: "pump-x.md",
    format: "markdown",
    metadata: { product: "pump-x", lang: "en" },
    content:
      "# Pump X manual\n\nPump X moves coolant through the loop.\n\n## Reset\n\nTo reset Pump X, hold the red button for five seconds until the status light blinks green.\n\n## Maintenance\n\nReplace the impeller gasket every 2000 operating hours.",
  },
  {
    key: "valve-v2.html",
    format: "html",
    metadata: { product: "valve-v2", lang: "en" },
    content:
      "<html><head><title>Valve V2</title></head><body><h1>Valve V2</h1><p>The valve isolates the pressure line.</p><h2>Safety</h2><p>Always close the valve and vent the pressure before opening the housing.</p></body></html>",
  },
  {
    key: "cafeteria.txt",
    format: "text",
    metadata: { product: "none", lang: "en", internal: true },
    content: "The cafeteria serves soup on Mondays and pasta on Fridays. Coffee is free for all staff.",
  },
];
