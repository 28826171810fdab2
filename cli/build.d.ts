// Types for cli/build.js, which stays plain JavaScript so a bare `node` runs it before anything is built.

/** The repository root and the bundle's folder (dist/). */
export declare const ROOT: string;
export declare const DIST: string;
/** The bundle and its V8 code cache file when every file it was built from is as at the build; undefined when stale or missing. */
export declare function freshBundle(
  outdir?: string,
): { entry: string; codeCache: string | undefined } | undefined;
/** freshBundle()'s entry. */
export declare function bundleIsFresh(outdir?: string): string | undefined;
/** Bundles cli/entry.ts into `outdir` (default dist/sutazai.cjs) and resolves to the entry's path. */
export declare function build(outdir?: string): Promise<string>;
