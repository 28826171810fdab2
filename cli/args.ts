/**
 * A tiny flag parser. util.parseArgs on Node 20 has no `--no-x` negation and cannot take
 * `--inline-worker false` as a boolean's value, which the node flags need.
 */
export interface FlagSpec {
  /** without the leading dashes: "data-dir" */
  name: string;
  help: string;
  /** a switch: `--x`, `--x=false`, `--x false`, `--no-x` */
  boolean?: boolean;
  /** environment variable read when the flag is absent */
  env?: string;
  default?: string;
  /** placeholder in --help: `--data <json>` */
  value?: string;
  secret?: boolean;
}

export interface ParsedArgs {
  positionals: string[];
  flags: Record<string, string | boolean>;
}

/** A mistake in how the command was typed; the CLI prints it and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

const BOOLEAN_WORD = /^(1|0|true|false|yes|no|on|off)$/i;

/**
 * Parses `argv` against `specs`. `--flag value` and `--flag=value`; booleans as above;
 * everything after `--` is positional. Unknown flags and missing values are UsageErrors
 * that name `command` so the message says where to look.
 *
 * @example
 *   parseArgs(["echo", "--data", "{}", "--async"], INVOKE_FLAGS, "invoke")
 *   // { positionals: ["echo"], flags: { data: "{}", async: true } }
 */
export function parseArgs(
  argv: string[],
  specs: FlagSpec[],
  command: string,
  opts: { positionals?: boolean } = {},
): ParsedArgs {
  // Without positionals a word after a switch can only be its value; taking it lets the
  // config report `--inline-worker maybe` as a bad value instead of a stray argument.
  const takesPositionals = opts.positionals ?? true;
  const byName = new Map(specs.map((s) => [s.name, s]));
  const positionals: string[] = [];
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--")) {
      if (arg.startsWith("-") && arg.length > 1 && !/^-\d/.test(arg)) {
        throw new UsageError(
          `Unknown flag ${arg} for \`sutazai ${command}\`. Flags are spelled out, e.g. --port; run \`sutazai help ${command}\`.`,
        );
      }
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    const spec = byName.get(name);
    if (!spec && name.startsWith("no-")) {
      const negated = byName.get(name.slice(3));
      if (negated?.boolean && inline === undefined) {
        flags[negated.name] = false;
        continue;
      }
    }
    if (!spec) throw new UsageError(unknownFlag(name, specs, command));
    if (spec.boolean) {
      if (inline !== undefined) flags[spec.name] = inline;
      else if (BOOLEAN_WORD.test(argv[i + 1] ?? "")) flags[spec.name] = argv[++i]!;
      else if (!takesPositionals && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith("-"))
        flags[spec.name] = argv[++i]!;
      else flags[spec.name] = true;
      continue;
    }
    const value = inline ?? argv[i + 1];
    if (value === undefined || (inline === undefined && value.startsWith("--"))) {
      throw new UsageError(`--${spec.name} needs a value: --${spec.name} ${spec.value ?? "<value>"}.`);
    }
    if (inline === undefined) i++;
    flags[spec.name] = value;
  }
  return { positionals, flags };
}

/** A flag's value: the flag, else its environment variable, else the spec's default. */
export function flagValue(
  args: ParsedArgs,
  spec: FlagSpec,
  env: NodeJS.ProcessEnv,
): string | boolean | undefined {
  const fromFlag = args.flags[spec.name];
  if (fromFlag !== undefined) return fromFlag;
  if (spec.env && env[spec.env]) return env[spec.env];
  return spec.default;
}

/** Reads a boolean flag typed as a switch or a word. */
export function isOn(value: string | boolean | undefined): boolean {
  if (typeof value === "boolean") return value;
  if (value === undefined) return false;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new UsageError(`Expected true or false, not "${value}".`);
}

function unknownFlag(name: string, specs: FlagSpec[], command: string): string {
  const near = specs.map((s) => s.name).find((n) => editDistance(n, name) <= 2);
  const hint = near ? ` Did you mean --${near}?` : "";
  return `Unknown flag --${name} for \`sutazai ${command}\`.${hint} Run \`sutazai help ${command}\` to see its flags.`;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
