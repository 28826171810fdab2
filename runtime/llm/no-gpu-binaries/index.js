// node-llama-cpp imports @node-llama-cpp/<platform>-cuda|vulkan and asks getBinsDir() for the
// prebuilt binaries. The root package.json `overrides` point those packages here, so the
// answer is "none": node-llama-cpp treats the GPU build as unavailable and uses the CPU
// package (@node-llama-cpp/linux-x64 etc.), exactly as when an optional dependency is
// skipped. The embedded provider asks for gpu:false anyway. To use a GPU, remove the
// override for your platform and run `npm install`.
export function getBinsDir() {
  return { binsDir: undefined, packageVersion: undefined };
}
