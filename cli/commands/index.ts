import { auditCommand } from "./audit.ts";
import { benchCommand } from "./bench.ts";
import { edgeCommand } from "./edge.ts";
import { invokeCommand } from "./invoke.ts";
import { keysCommand } from "./keys.ts";
import { knowledgeCommand } from "./knowledge.ts";
import { migrateCommand } from "./migrate.ts";
import { serverCommand } from "./server.ts";
import { syncCommand } from "./sync.ts";
import type { Command } from "./types.ts";
import { workerCommand } from "./worker.ts";

export type { Command, CommandResult } from "./types.ts";

/** Every command, in the order `sutazai help` lists them. */
export const COMMANDS: Command[] = [
  edgeCommand,
  serverCommand,
  workerCommand,
  migrateCommand,
  invokeCommand,
  keysCommand,
  auditCommand,
  knowledgeCommand,
  syncCommand,
  benchCommand,
];
