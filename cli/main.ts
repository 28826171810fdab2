import { runCli } from "./cli.ts";

// The entry point of `sutazai`: bundled into dist/ by cli/build.js and run by cli/bin.js (the
// installed command, `npm start`, `npm run sutazai`); `tsx cli/main.ts` runs it from source.
const result = await runCli(process.argv.slice(2));
// A started node keeps the event loop alive and exits from its signal handler; every other
// command exits now rather than waiting for idle keep-alive sockets to time out.
if (result !== "running") process.exit(result);
