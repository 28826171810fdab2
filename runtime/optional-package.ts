/**
 * Loads a package that only some nodes use (node-llama-cpp, ollama, the remote libSQL client)
 * on first use. `npm start` runs the bundle as a vm.Script (cli/run-bundle.js), where a native
 * import() has no module loader to call after the script came from the V8 code cache, so
 * run-bundle.js hands one in as globalThis.__sutazaiImport. Run from source, or as a plain
 * `node dist/sutazai.cjs`, this is an ordinary import().
 */
export function importPackage<T>(specifier: string): Promise<T> {
  const host = (globalThis as { __sutazaiImport?: (specifier: string) => Promise<unknown> }).__sutazaiImport;
  return (host ? host(specifier) : import(specifier)) as Promise<T>;
}
