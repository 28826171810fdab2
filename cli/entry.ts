import { runCli } from "./cli.ts";

/**
 * The entry point of `sutazai`: what cli/build.js bundles into dist/sutazai.cjs (run by
 * cli/bin.js: the installed command, `npm start`, `npm run sutazai`) and what cli/main.ts
 * runs from source. "running": a node was started and keeps the process alive; otherwise
 * the command's exit code.
 */
export function main(argv: string[]): Promise<number | "running"> {
  return runCli(argv);
}
