import { createAuditLog } from "../../runtime/audit/log.ts";
import { parseDuration } from "../../runtime/auth/duration.ts";
import { createKeyStore } from "../../runtime/auth/keys.ts";
import { ROLES, type Role } from "../../runtime/auth/principal.ts";
import { UsageError } from "../args.ts";
import { withLocalDatabase } from "./local-db.ts";
import { configFlags } from "./node-flags.ts";
import type { Command } from "./types.ts";

export const keysCommand: Command = {
  name: "keys",
  summary: "create, list or revoke API keys in a node's data dir",
  usage:
    "sutazai keys create --name N --role R [--functions f1,f2] [--expires 30d] [--data-dir D]\n" +
    "       sutazai keys list [--data-dir D]\n" +
    "       sutazai keys revoke <id> [--data-dir D]",
  flags: [
    { name: "name", help: "a label for the key (who or what holds it)", value: "name" },
    { name: "role", help: `one of ${ROLES.join(", ")}`, value: "role" },
    {
      name: "functions",
      help: "comma-separated functions the key may invoke (required for device keys)",
      value: "list",
    },
    { name: "expires", help: "lifetime such as 30d, 12h or 90m (default: never)", value: "duration" },
    ...configFlags(["dataDir", "dbUrl", "dbAuthToken"]),
  ],
  details:
    "`keys create` prints the secret as its LAST line, once: only its hash is stored. Creation and " +
    "revocation are recorded in the audit log. Role `node` is the key an edge uses to sync with this server.",
  async run(args, env) {
    const [action, ...rest] = args.positionals;
    return withLocalDatabase(args, env, async (database) => {
      const audit = createAuditLog(database);
      const keys = createKeyStore(database.db, { audit });
      try {
        if (action === "create") {
          const name = stringFlag(args.flags.name, "--name");
          const role = stringFlag(args.flags.role, "--role") as Role;
          if (!ROLES.includes(role))
            throw new UsageError(`--role must be one of ${ROLES.join(", ")}, not "${role}".`);
          const functions = args.flags.functions
            ? String(args.flags.functions)
                .split(",")
                .map((f) => f.trim())
                .filter(Boolean)
            : null;
          const expires = args.flags.expires ? String(args.flags.expires) : undefined;
          const created = await keys.create({
            name,
            role,
            functions,
            expiresAt: expires ? Date.now() + parseDuration(expires) : null,
            createdBy: "cli",
          });
          process.stdout.write(
            `Created key ${created.id} (${created.prefix}) role=${created.role}` +
              `${created.functions ? ` functions=${created.functions.join(",")}` : ""}` +
              `${created.expiresAt ? ` expires=${new Date(created.expiresAt).toISOString()}` : ""}\n` +
              "The secret below is shown once; store it now.\n" +
              `${created.secret}\n`,
          );
          return 0;
        }
        if (action === "list") {
          for (const k of await keys.list()) {
            const state = k.revokedAt
              ? "revoked"
              : k.expiresAt && k.expiresAt < Date.now()
                ? "expired"
                : "active";
            process.stdout.write(`${k.id}  ${k.prefix}  ${k.role.padEnd(9)} ${state.padEnd(7)}  ${k.name}\n`);
          }
          return 0;
        }
        if (action === "revoke") {
          const id = rest[0];
          if (!id) throw new UsageError("Usage: sutazai keys revoke <id>  (ids from `sutazai keys list`).");
          const revoked = await keys.revoke(id, "cli");
          if (!revoked) {
            process.stderr.write(`No key with id ${id}.\n`);
            return 1;
          }
          process.stdout.write(`Revoked ${revoked.id} (${revoked.prefix}).\n`);
          return 0;
        }
        throw new UsageError(`Usage: ${keysCommand.usage}`);
      } finally {
        await keys.flush();
        await audit.flush();
      }
    });
  },
};

function stringFlag(value: string | boolean | undefined, name: string): string {
  if (typeof value !== "string" || value === "") throw new UsageError(`keys create needs ${name}.`);
  return value;
}
