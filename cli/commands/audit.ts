import { createAuditLog } from "../../runtime/audit/log.ts";
import { AppError } from "../../runtime/errors.ts";
import { UsageError } from "../args.ts";
import { withLocalDatabase } from "./local-db.ts";
import { configFlags } from "./node-flags.ts";
import type { Command } from "./types.ts";

export const auditCommand: Command = {
  name: "audit",
  summary: "verify the hash chain of a node's audit log",
  usage: "sutazai audit verify [--node ID] [--data-dir D]",
  flags: [
    ...configFlags(["dataDir", "dbUrl", "dbAuthToken"]),
    {
      name: "node",
      value: "ID",
      help: "on a server: verify the chain edge ID sent by sync instead of the server's own",
    },
  ],
  details:
    "Walks every entry, recomputing hash = sha256(prev_hash + canonical JSON). Exits 0 when the chain is " +
    "intact, 1 naming the first broken entry when a row was altered, deleted or reordered.",
  async run(args, env) {
    if (args.positionals[0] !== "verify" || args.positionals.length > 1) {
      throw new UsageError(`Usage: ${auditCommand.usage}`);
    }
    return withLocalDatabase(args, env, async (database) => {
      const node = args.flags.node === undefined ? undefined : String(args.flags.node);
      const result = await createAuditLog(database)
        .verify(node)
        .catch((err: unknown) => {
          if (err instanceof AppError && err.code === "NODE_UNKNOWN") throw new UsageError(err.message);
          throw err;
        });
      const what = node === undefined ? "Audit log" : `Audit log of edge ${node}`;
      if (result.ok) {
        process.stdout.write(`${what} intact: ${result.count} entries verified.\n`);
        return 0;
      }
      process.stderr.write(
        `${what} BROKEN at entry seq=${result.seq}${result.id ? ` id=${result.id}` : ""}: ${result.reason}.\n`,
      );
      return 1;
    });
  },
};
