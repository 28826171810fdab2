#!/usr/bin/env node
// The installed `sutazai` command, and what `npm start` / `npm run sutazai` run. It runs the
// esbuild bundle of cli/entry.ts in dist/ (built by `prepare` at npm install / npm ci, or by
// `npm run build`) with a V8 code cache (run-bundle.js), which starts a node in about a quarter
// of the time of compiling the TypeScript through tsx. The bundle never runs stale: when a source
// it was built from changed since (one stat per source, ~1 ms), it is rebuilt first. Without
// esbuild, or without write access to dist/, the sources run through tsx's loader instead.
import { build, freshBundle } from "./build.js";
import { answerLibcFromLdd } from "./libc-hint.js";
import { runBundle } from "./run-bundle.js";

answerLibcFromLdd();

const bundle = freshBundle() ?? (await rebuild());
if (bundle) {
  await runBundle(bundle, process.argv.slice(2));
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("./main.ts");
}

/** The rebuilt bundle, or undefined when it cannot be built here (then tsx runs the sources). */
async function rebuild() {
  try {
    await build();
    return freshBundle();
  } catch (err) {
    if (Array.isArray(err?.errors) && err.errors.length > 0) {
      // A compile error in the sources: tsx would fail on it too, so say it once and stop.
      const { formatMessages } = await import("esbuild");
      const text = await formatMessages(err.errors, { kind: "error", color: process.stderr.isTTY });
      process.stderr.write(`sutazai: the sources do not compile:\n${text.join("")}`);
      process.exit(1);
    }
    if (process.env.SUTAZAI_LOG_LEVEL === "debug") {
      process.stderr.write(
        `sutazai: cannot build dist/ (${err?.message ?? err}); running the sources via tsx\n`,
      );
    }
    return undefined;
  }
}
