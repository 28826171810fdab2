/**
 * A worker process for tests/queue-local-sigkill.test.ts, run as
 *   node --import tsx tests/support/local-queue-worker.ts <db file> <marker dir> <leaseMs>
 * Its handler leaves a marker file `started-<job id>-<attempt>` and then hangs, so the
 * only way the job leaves this process is the test's SIGKILL.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { openDatabase } from "../../runtime/db.ts";
import { createLocalQueue } from "../../runtime/queue/local.ts";

const [dbPath, markerDir, leaseMs] = process.argv.slice(2);
if (!dbPath || !markerDir || !leaseMs) {
  process.stderr.write("usage: local-queue-worker.ts <db file> <marker dir> <leaseMs>\n");
  process.exit(2);
}

const database = await openDatabase(dbPath);
const queue = createLocalQueue(database, {
  leaseMs: Number(leaseMs),
  pollMs: 20,
  workerId: `child-${process.pid}`,
});
queue.process(async (job) => {
  writeFileSync(join(markerDir, `started-${job.id}-${job.attempt}`), String(process.pid));
  await new Promise(() => {});
});
process.stdout.write("ready\n");
