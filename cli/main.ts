import { main } from "./entry.ts";

// `tsx cli/main.ts <command>`: the CLI from source (the tests spawn nodes this way).
const result = await main(process.argv.slice(2));
// A started node keeps the event loop alive and exits from its signal handler; every other
// command exits now rather than waiting for idle keep-alive sockets to time out.
if (result !== "running") process.exit(result);
