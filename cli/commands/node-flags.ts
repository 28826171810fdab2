import { type Config, OPTIONS } from "../../runtime/config.ts";
import { type FlagSpec, UsageError } from "../args.ts";

/** The flags of runtime/config.ts OPTIONS, so the CLI and --help never drift from the config. */
export function configFlags(keys?: Array<keyof Config>): FlagSpec[] {
  return OPTIONS.filter((o) => !keys || keys.includes(o.key)).map((o) => ({
    name: o.flag.replace(/^--/, ""),
    help: o.help,
    env: o.env,
    default: o.default,
    boolean: o.boolean,
    secret: o.secret,
  }));
}

export const NODE_FLAGS = configFlags();

export function noPositionals(command: string, positionals: string[]): void {
  if (positionals.length > 0) {
    throw new UsageError(
      `\`sutazai ${command}\` takes no arguments, got "${positionals.join(" ")}". Run \`sutazai help ${command}\`.`,
    );
  }
}
