// Runs the bundle (dist/sutazai.cjs) with a V8 code cache. Compiling the bundle was the largest
// single cost of a node start, and Node 20 keeps no compile cache for ES modules (Node 22's
// module.enableCompileCache() does for them what this does for one CommonJS file): the bundle is
// compiled as a vm.Script from the bytecode a previous start saved, and a node start without a
// usable cache saves one once it is up, so the functions a start and its first requests run are
// in it. Measured here: 130-170 ms less CPU per edge start.
//
// The cache file (freshBundle() in build.js names it) belongs to one build: a cache from another
// must never be used. It sits beside the bundle; where that is not writable, every start simply
// compiles.
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import vm from "node:vm";

/** After a start that could not use a cache, how long to wait before saving one. */
const SAVE_AFTER_MS = 1500;

/** Runs `main(argv)` of the bundle (freshBundle()) and handles the process exit. */
export async function runBundle({ entry, codeCache: cacheFile }, argv) {
  const source = readFileSync(entry, "utf8");
  let cachedData;
  try {
    if (cacheFile) cachedData = readFileSync(cacheFile);
  } catch {
    // no cache yet
  }
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: entry,
    cachedData,
    // For an import() inside the bundle (we route ours through __sutazaiImport): works when
    // the script was compiled afresh, not from a cache.
    importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  // Optional packages load through this (runtime/optional-package.ts): an import() inside a
  // script compiled from a code cache finds no module loader in Node 20.
  globalThis.__sutazaiImport = (specifier) => import(specifier);
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(entry), module, entry, dirname(entry));
  const save =
    cacheFile && (cachedData === undefined || script.cachedDataRejected)
      ? () => saveCache(script, cacheFile)
      : undefined;
  const result = await module.exports.main(argv);
  // Only a started node saves: a cache is never replaced while V8 accepts it, and one saved by
  // a one-shot command (--version, migrate) would hold little of what a node start runs.
  if (result === "running") {
    if (save) setTimeout(save, SAVE_AFTER_MS).unref();
    return;
  }
  process.exit(result);
}

function saveCache(script, cacheFile) {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, cacheFile);
  } catch {
    rmSync(tmp, { force: true }); // a read-only install: compile at every start
  }
}
