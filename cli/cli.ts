import { ConfigError } from "../runtime/errors.ts";
import { parseArgs, UsageError } from "./args.ts";
import { COMMANDS, type CommandResult } from "./commands/index.ts";
import { commandHelp, globalHelp, version } from "./help.ts";
import { RemoteError } from "./http.ts";

/**
 * Runs one `sutazai` command line. Resolves to the exit code, or "running" when a node was
 * started and the process must stay up (its signal handlers exit it).
 */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  try {
    return await dispatch(argv, env);
  } catch (err) {
    return report(err, env);
  }
}

async function dispatch(argv: string[], env: NodeJS.ProcessEnv): Promise<CommandResult> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    const topic = name === "help" ? rest[0] : undefined;
    if (topic === undefined) return print(globalHelp(COMMANDS));
    const command = COMMANDS.find((c) => c.name === topic);
    if (!command)
      throw new UsageError(`No command "${topic}". Commands: ${COMMANDS.map((c) => c.name).join(", ")}.`);
    return print(commandHelp(command));
  }
  if (name === "--version" || name === "-v" || name === "version") return print(`${version()}\n`);
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    const what = name.startsWith("-") ? `flag ${name} before a command` : `command "${name}"`;
    throw new UsageError(
      `Unknown ${what}. Commands: ${COMMANDS.map((c) => c.name).join(", ")}; run \`sutazai help\`.`,
    );
  }
  const beforeDashes = rest.indexOf("--") === -1 ? rest : rest.slice(0, rest.indexOf("--"));
  if (beforeDashes.includes("--help") || beforeDashes.includes("-h")) return print(commandHelp(command));
  return command.run(parseArgs(rest, command.flags, command.name, { positionals: command.positionals }), env);
}

function print(text: string): number {
  process.stdout.write(text);
  return 0;
}

/** Errors the user can fix get their message only; a stack trace would bury it. */
function report(err: unknown, env: NodeJS.ProcessEnv): number {
  if (err instanceof UsageError || err instanceof ConfigError) {
    process.stderr.write(`sutazai: ${err.message}\n`);
    return 2;
  }
  if (err instanceof RemoteError) {
    process.stderr.write(`sutazai: ${err.message}\n`);
    return 1;
  }
  const debug = env.SUTAZAI_LOG_LEVEL === "debug";
  const detail = err instanceof Error ? (debug ? (err.stack ?? err.message) : err.message) : String(err);
  process.stderr.write(
    `sutazai: ${detail}\n${debug ? "" : "(set SUTAZAI_LOG_LEVEL=debug for the stack trace)\n"}`,
  );
  return 1;
}
