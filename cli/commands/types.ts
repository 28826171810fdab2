import type { FlagSpec, ParsedArgs } from "../args.ts";

/** What a command's run() resolves to: an exit code, or "running" for a node that serves until a signal. */
export type CommandResult = number | "running";

export interface Command {
  name: string;
  /** one line for the command list */
  summary: string;
  /** e.g. "sutazai invoke <fn> --data JSON [--async]" */
  usage: string;
  flags: FlagSpec[];
  /** false for commands that take no arguments besides flags */
  positionals?: boolean;
  /** a heading for the flags in --help, when they are shared with other commands */
  flagsTitle?: string;
  /** extra paragraphs for `sutazai help <command>` */
  details?: string;
  run(args: ParsedArgs, env: NodeJS.ProcessEnv): Promise<CommandResult>;
}
