// Bundles the CLI (cli/entry.ts) with esbuild into dist/sutazai.cjs, the code `npm start` and the
// `sutazai` command run (through cli/run-bundle.js): one process start no longer pays for tsx
// compiling ~150 TypeScript files.
//
//   node cli/build.js            build now (npm run build; `prepare` at npm install / npm ci)
//   node cli/build.js --if-stale build only when a bundled source changed since the last build
//
// Plain JavaScript, so it runs on a bare `node` before anything is compiled. cli/bin.js imports
// bundleIsFresh()/build() from here; esbuild itself is imported only when building.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = fileURLToPath(new URL("../", import.meta.url));
export const DIST = join(ROOT, "dist");
const ENTRY = join(ROOT, "cli", "entry.ts");
const MANIFEST = "build.json";
// Pure-JavaScript packages every node loads at start: bundled, so one start reads and compiles a
// few files instead of ~260 (drizzle-orm alone is 113 ESM files, zod 95, hono 41): about a third
// less CPU to the first /healthz than with every package external (measured 570 vs 920 ms). Everything else stays external and resolves from
// ./node_modules at run time: native (libsql), optional or loaded on first use (node-llama-cpp,
// ollama, the remote libSQL client), server-only (bullmq, ioredis). All code that touches
// these packages is in the bundle, so there is one copy of each (one zod, one drizzle).
const BUNDLED_PACKAGES = new Set([
  "zod",
  "hono",
  "@hono/node-server",
  "@hono/zod-openapi",
  "@hono/zod-validator",
  "@asteasolutions/zod-to-openapi",
  "drizzle-orm",
  // @opentelemetry/api keeps its state on globalThis (a versioned Symbol.for key), so the
  // bundled copy and an SDK the user registers with their own copy see one tracer provider.
  "@opentelemetry/api",
  // The local libSQL client's JavaScript; its native driver (libsql) stays external.
  "@libsql/core",
  "js-base64",
]);
/** Single entry points of packages that otherwise stay external (the rest of @libsql/client is remote-only). */
const BUNDLED_IMPORTS = new Set(["@libsql/client/sqlite3"]);
const ENTRY_OUT = "sutazai.cjs";
// Files of an earlier build (outputs, code caches) are removed once this old.
const KEEP_OLD_OUTPUTS_MS = 60 * 60 * 1000;
/** The bundle's own URL, for the `import.meta.url` of each source (see sourceUrls). */
const BUNDLE_URL = "__sutazai_bundle_url";

/**
 * The bundle when every file that went into it is as it was at the build (same mtime and
 * size, not modified since the build started) and it still exists; undefined when it must be
 * rebuilt. Costs one stat per bundled source (~150), about a millisecond.
 *
 * `codeCache`: where cli/run-bundle.js keeps the V8 code cache of this very build (named by
 * its content hash, since V8 itself checks only the source's length, and by the Node version);
 * undefined when the entry is not the file the build wrote (same size and mtime).
 */
export function freshBundle(outdir = DIST) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(outdir, MANIFEST), "utf8"));
  } catch {
    return undefined;
  }
  let entry;
  try {
    // Any difference counts, not only "newer": rsync -a, cp -p or a tarball bring older times.
    for (const [input, mtimeMs, size] of manifest.inputs) {
      const st = statSync(join(ROOT, input));
      if (st.mtimeMs !== mtimeMs || st.size !== size || st.mtimeMs >= manifest.startedAt) return undefined;
    }
    entry = statSync(join(outdir, manifest.entry));
  } catch {
    return undefined; // a source or the bundle itself is gone
  }
  const asBuilt =
    manifest.hash && entry.size === manifest.entrySize && entry.mtimeMs === manifest.entryMtimeMs;
  return {
    entry: join(outdir, manifest.entry),
    codeCache: asBuilt ? join(outdir, `sutazai.${manifest.hash}.${process.version}.cache`) : undefined,
  };
}

/** freshBundle()'s entry: the bundle to run, or undefined when it must be rebuilt. */
export function bundleIsFresh(outdir = DIST) {
  return freshBundle(outdir)?.entry;
}

/**
 * Bundles cli/entry.ts into `outdir` (default dist/) and returns the entry's path.
 *
 * - One CommonJS file for node20, so cli/run-bundle.js can compile it as a vm.Script with a
 *   V8 code cache: ES modules offer no code cache before Node 22, and compiling was the
 *   largest single cost of a start. Packages other than BUNDLED_PACKAGES stay external
 *   (resolved from ./node_modules at run time); `import()` of them stays a native dynamic
 *   import, so optional ones (node-llama-cpp, ollama, the remote libSQL client) load on
 *   first use, and only when used.
 * - Every `await import("./x.ts")` of ours becomes a lazily run module: its code is in the
 *   file but runs (and requires bullmq, ioredis...) only when imported, as under tsx.
 * - `import.meta.url` in a source becomes that source's own URL, computed from the bundle's
 *   location at run time, so files read relative to the sources (schema/migrations, package.json)
 *   are found wherever the outputs sit. All outputs sit in `outdir` itself for that reason.
 * - Files are written to temporaries and renamed, the manifest last: a process starting while
 *   another rebuilds reads the old bundle or the new one, never half a file.
 */
export async function build(outdir = DIST) {
  const esbuild = await import("esbuild");
  const startedAt = Date.now();
  const result = await esbuild.build({
    // Metafile paths are relative to this; without it they follow the caller's cwd.
    absWorkingDir: ROOT,
    entryPoints: { [ENTRY_OUT.replace(/\.c?js$/, "")]: ENTRY },
    outdir,
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    outExtension: { ".js": ".cjs" },
    banner: { js: `"use strict";var ${BUNDLE_URL}=require("node:url").pathToFileURL(__filename).href;` },
    // `node dist/sutazai.cjs <command>` runs too; cli/run-bundle.js calls main() itself.
    footer: {
      js: 'if(require.main===module)module.exports.main(process.argv.slice(2)).then(r=>{if(r!=="running")process.exit(r)});',
    },
    sourcemap: "linked",
    // Less text to read and decode at every start (about a third less, and ~6% of a start when it
    // was measured). Names are kept: stack traces stay readable, and the source map points back
    // at the TypeScript.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: "none",
    metafile: true,
    write: false,
    logLevel: "silent",
    plugins: [externalPackages(), sourceUrls(outdir)],
  });
  for (const file of result.outputFiles) {
    if (dirname(file.path) !== resolve(outdir))
      throw new Error(`unexpected output outside ${outdir}: ${file.path}`);
  }
  // A bundled package reading import.meta would get an empty object in CommonJS: keep it external.
  const meta = result.warnings.find((w) => /import\.meta/.test(w.text));
  if (meta)
    throw new Error(`${meta.location?.file ?? "a bundled file"} uses import.meta: keep its package external`);
  mkdirSync(outdir, { recursive: true });
  const outputs = [];
  // The map before the entry, the entry before the manifest that names it.
  const ordered = [...result.outputFiles].sort((a, b) => rank(a.path) - rank(b.path));
  for (const file of ordered) {
    writeAtomic(file.path, file.contents);
    outputs.push(relative(outdir, file.path));
  }
  // Bundled packages change only through npm, which rewrites node_modules/.package-lock.json.
  const inputs = Object.keys(result.metafile.inputs)
    .map((p) => relative(ROOT, resolve(ROOT, p)).split(sep).join("/"))
    .filter((p) => !p.startsWith("node_modules/"))
    .concat(
      ["cli/build.js", "tsconfig.json", "package.json", "node_modules/.package-lock.json"].filter(exists),
    );
  // Each input with the mtime and size it had when the build started reading (a file edited
  // during the build is newer than startedAt and makes the next start rebuild).
  const stamped = inputs.map((p) => {
    const st = statSync(join(ROOT, p));
    return [p, st.mtimeMs, st.size];
  });
  // What the code cache is keyed by (cli/run-bundle.js): V8 itself checks only the length.
  const entryFile = result.outputFiles.find((f) => f.path.endsWith(ENTRY_OUT));
  const hash = createHash("sha256").update(entryFile.contents).digest("hex").slice(0, 16);
  const written = statSync(join(outdir, ENTRY_OUT));
  const manifest = {
    startedAt,
    entry: ENTRY_OUT,
    hash,
    entrySize: written.size,
    entryMtimeMs: written.mtimeMs,
    outputs,
    inputs: stamped,
  };
  writeAtomic(join(outdir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  pruneOldOutputs(outdir, new Set([...outputs, MANIFEST]));
  return join(outdir, ENTRY_OUT);
}

function exists(rel) {
  try {
    statSync(join(ROOT, rel));
    return true;
  } catch {
    return false; // e.g. no node_modules/.package-lock.json under another package manager
  }
}

function rank(path) {
  if (path.endsWith(".map")) return 0;
  return path.endsWith(ENTRY_OUT) ? 2 : 1;
}

function writeAtomic(path, contents) {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, contents);
  renameSync(tmp, path);
}

/** Removes chunks no build has written for an hour (a running node may still import recent ones). */
function pruneOldOutputs(outdir, keep) {
  const now = Date.now();
  for (const name of readdirSync(outdir)) {
    if (keep.has(name)) continue;
    const path = join(outdir, name);
    try {
      if (now - statSync(path).mtimeMs > KEEP_OLD_OUTPUTS_MS) rmSync(path, { force: true });
    } catch {
      // removed by a concurrent build
    }
  }
}

/** esbuild plugin: every package not in BUNDLED_PACKAGES is imported from node_modules at run time. */
function externalPackages() {
  return {
    name: "external-packages",
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        const name = args.path.split("/", args.path.startsWith("@") ? 2 : 1).join("/");
        return BUNDLED_PACKAGES.has(name) || BUNDLED_IMPORTS.has(args.path)
          ? undefined
          : { path: args.path, external: true };
      });
    },
  };
}

/** esbuild plugin: `import.meta.url` in a repository source → that source's URL, relative to the output. */
function sourceUrls(outdir) {
  return {
    name: "source-urls",
    setup(b) {
      b.onLoad({ filter: /\.[cm]?[jt]s$/ }, (args) => {
        if (args.path.includes(`${sep}node_modules${sep}`)) return undefined;
        const text = readFileSync(args.path, "utf8");
        if (!text.includes("import.meta.url")) return undefined;
        const rel = relative(resolve(outdir), args.path).split(sep).join("/");
        const url = `new URL(${JSON.stringify(rel)}, ${BUNDLE_URL}).href`;
        const loader = args.path.endsWith("ts") ? "ts" : "js";
        return { contents: text.replaceAll(/\bimport\.meta\.url\b/g, url), loader };
      });
    },
  };
}

// Run as a script (not imported by bin.js).
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const ifStale = process.argv.includes("--if-stale");
  const outFlag = process.argv.indexOf("--outdir");
  const outdir = outFlag === -1 ? DIST : resolve(process.argv[outFlag + 1] ?? "");
  if (ifStale && bundleIsFresh(outdir)) process.exit(0);
  const t0 = performance.now();
  try {
    await import("esbuild");
  } catch {
    // A production install (npm ci --omit=dev) has no esbuild: `prepare` must not fail the
    // install for it. cli/bin.js then runs the sources through tsx.
    process.stderr.write("sutazai build skipped: esbuild is not installed (the sources will run via tsx)\n");
    process.exit(0);
  }
  try {
    const entry = await build(outdir);
    process.stderr.write(
      `built ${relative(process.cwd(), entry)} in ${Math.round(performance.now() - t0)} ms\n`,
    );
  } catch (err) {
    process.stderr.write(`sutazai build failed: ${err?.message ?? err}\n`);
    process.exit(1);
  }
}
