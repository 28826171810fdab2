import { runCli } from "./cli.ts";

// The entry point of `sutazai` (via cli/bin.js, `npm run sutazai` or `tsx cli/main.ts`).
const result = await runCli(process.argv.slice(2));
// A started node keeps the event loop alive and exits from its signal handler; every other
// command exits now rather than waiting for idle keep-alive sockets to time out.
if (result !== "running") process.exit(result);
