// libsql's native loader (@neon-rs/load) decides glibc vs musl by calling
// process.report.getReport(): a full diagnostic report (stacks, heap, network interfaces,
// libuv handles) costing ~15-25 ms of every node start, to read one header field. The C
// library is visible far more cheaply in /usr/bin/ldd (what detect-libc checks first), so the
// first getReport() call is answered from that, and the real function is put back at once.
// Plain JavaScript, run by cli/bin.js before the bundle loads libsql.
import { readFileSync } from "node:fs";

export function answerLibcFromLdd() {
  const report = process.report;
  if (process.platform !== "linux" || typeof report?.getReport !== "function") return;
  let glibc;
  try {
    const ldd = readFileSync("/usr/bin/ldd", "latin1");
    if (ldd.includes("musl")) return; // a report says musl as well; nothing to save
    glibc = /GLIBC\s(\d+\.\d+)/.exec(ldd)?.[1]; // as detect-libc reads it
  } catch {
    return;
  }
  if (!glibc) return;
  const getReport = report.getReport;
  report.getReport = function (...args) {
    report.getReport = getReport;
    if (args.length > 0) return getReport.apply(this, args);
    return { header: { glibcVersionRuntime: glibc } };
  };
}
