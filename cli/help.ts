import { readFileSync } from "node:fs";
import type { FlagSpec } from "./args.ts";
import type { Command } from "./commands/types.ts";

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

/** `sutazai --help`: every command, every flag with its environment variable and default. */
export function globalHelp(commands: Command[]): string {
  const out = [
    `sutazai ${version()}: self-hosted runtime for AI agents`,
    "",
    "Usage: sutazai <command> [flags]",
    "",
    "Commands:",
    ...table([
      ...commands.map((c) => [c.name, c.summary]),
      ["help [command]", "show this help, or one command's"],
    ]),
  ];
  const shown = new Set<string>();
  for (const c of commands) {
    const title = c.flagsTitle ?? `${c.name} flags`;
    if (shown.has(title)) continue;
    shown.add(title);
    out.push("", `${capitalize(title)}:`, ...flagTable(c.flags));
  }
  out.push("", ...FOOTER);
  return `${out.join("\n")}\n`;
}

/** `sutazai help <command>` / `sutazai <command> --help`. */
export function commandHelp(c: Command): string {
  const out = [`Usage: ${c.usage}`, "", `${capitalize(c.summary)}.`];
  if (c.details) out.push("", c.details);
  out.push("", "Flags:", ...flagTable(c.flags), "", ...FOOTER);
  return `${out.join("\n")}\n`;
}

const FOOTER = [
  "Flags win over environment variables. Secrets may also come from a file: set <VAR>_FILE",
  "(e.g. REDIS_URL_FILE, SUTAZAI_DB_AUTH_TOKEN_FILE) to its path.",
  "Global: -h, --help shows help; -v, --version prints the version.",
  "Exit codes: 0 success, 1 failure, 2 usage or configuration error.",
];

function flagTable(flags: FlagSpec[]): string[] {
  return table(
    flags.map((f) => {
      const name = f.boolean
        ? `--${f.name}${f.env ? " [true|false]" : ""}`
        : `--${f.name} ${f.value ?? "<value>"}`;
      const extra = [f.env ? `env ${f.env}` : "", f.default ? `default ${f.default}` : ""]
        .filter(Boolean)
        .join("; ");
      return [name, extra ? `${f.help} (${extra})` : f.help];
    }),
  );
}

function table(rows: string[][]): string[] {
  const width = Math.max(...rows.map((r) => r[0]!.length));
  return rows.map(([a, b]) => `  ${a!.padEnd(width)}  ${b}`);
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
