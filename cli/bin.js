#!/usr/bin/env node
// The installed `sutazai` command. The CLI is TypeScript run through tsx; registering tsx's
// loader in this process (rather than spawning a child) keeps signals and exit codes direct.
import { register } from "tsx/esm/api";

register();
await import("./main.ts");
