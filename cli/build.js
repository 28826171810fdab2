// Bundles the CLI (cli/main.ts) with esbuild into dist/, the code `npm start` and the `sutazai`
// command run: one process start no longer pays for tsx compiling ~150 TypeScript files.
//
//   node cli/build.js            build now (npm run build; `prepare` at npm install / npm ci)
//   node cli/build.js --if-stale build only when a bundled source changed since the last build
//
// Plain JavaScript, so it runs on a bare `node` before anything is compiled. cli/bin.js imports
// bundleIsFresh()/build() from here; esbuild itself is imported only when building.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = fileURLToPath(new URL("../", import.meta.url));
export const DIST = join(ROOT, "dist");
const ENTRY = join(ROOT, "cli", "main.ts");
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
const ENTRY_OUT = "sutazai.js";
// Outputs of an earlier build that a node started before a rebuild may still import lazily.
const KEEP_OLD_OUTPUTS_MS = 60 * 60 * 1000;

/**
 * The bundle's entry when every file that went into it is as it was at the build (same mtime
 * and size, not modified since the build started) and still exists; undefined when it must
 * be rebuilt. Costs one
 * stat per bundled source (~150), about a millisecond.
 */
export function bundleIsFresh(outdir = DIST) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(outdir, MANIFEST), "utf8"));
  } catch {
    return undefined;
  }
  try {
    // Any difference counts, not only "newer": rsync -a, cp -p or a tarball bring older times.
    for (const [input, mtimeMs, size] of manifest.inputs) {
      const st = statSync(join(ROOT, input));
      if (st.mtimeMs !== mtimeMs || st.size !== size || st.mtimeMs >= manifest.startedAt) return undefined;
    }
    statSync(join(outdir, manifest.entry));
  } catch {
    return undefined; // a source or the bundle itself is gone
  }
  return join(outdir, manifest.entry);
}

/**
 * Bundles cli/main.ts into `outdir` (default dist/) and returns the entry's path.
 *
 * - ESM for node20. Packages other than BUNDLED_PACKAGES stay external (resolved from
 *   ./node_modules at run time), so optional ones (node-llama-cpp, ollama, the remote libSQL
 *   client) still load on first use, and only when used.
 * - Code splitting: every `await import("./x.ts")` stays a separate chunk loaded as late as
 *   under tsx; without it the server's static bullmq/ioredis imports would be hoisted into the
 *   entry and load on every edge start.
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
    entryPoints: { [ENTRY_OUT.replace(/\.js$/, "")]: ENTRY },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    chunkNames: "chunk-[hash]",
    sourcemap: "linked",
    // Less text to read, decode and compile at every start (~1.0 -> 0.7 MB for an edge; about
    // 30 ms of a ~480 ms start measured here). Names are kept: stack traces stay readable,
    // and the source map points back at the TypeScript.
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
    // esbuild's stand-in for require() in ESM output throws at run time: a bundled package
    // that calls require() must stay external instead.
    if (file.path.endsWith(".js") && file.text.includes("Dynamic require of")) {
      throw new Error(`${relative(ROOT, file.path)} would call require(): keep that package external`);
    }
  }
  mkdirSync(outdir, { recursive: true });
  const outputs = [];
  // Chunks before the entry that imports them, the entry before the manifest that names it.
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
  const manifest = { startedAt, entry: ENTRY_OUT, outputs, inputs: stamped };
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
        const url = `new URL(${JSON.stringify(rel)}, import.meta.url).href`;
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
