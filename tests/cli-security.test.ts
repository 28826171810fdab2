import { join } from "node:path";
import { createClient } from "@libsql/client";
import { afterAll, describe, expect, it } from "vitest";
import { removeTempDirs, runCli, tempDataDir } from "./support/spawn-node.ts";
import { startTestNode } from "./support/test-node.ts";

afterAll(() => removeTempDirs());

const dbOf = (dir: string) => createClient({ url: `file:${join(dir, "sutazai.db")}` });

describe("sutazai keys", () => {
  it("creates a key whose secret is the last line and works against a node on that data dir", async () => {
    const dir = tempDataDir();
    const run = await runCli([
      "keys",
      "create",
      "--name",
      "pump-7",
      "--role",
      "device",
      "--functions",
      "echo",
      "--expires",
      "30d",
      "--data-dir",
      dir,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const secret = run.stdout.trim().split("\n").at(-1)!;
    expect(secret).toMatch(/^sk_sutazai_[0-9a-f]{8}_/);
    // only the hash is stored
    const db = dbOf(dir);
    const stored = await db.execute("SELECT * FROM api_keys");
    db.close();
    expect(JSON.stringify(stored.rows)).not.toContain(secret);

    const node = await startTestNode({ dataDir: dir });
    try {
      const auth = { authorization: `Bearer ${secret}`, "content-type": "application/json" };
      const ok = await node.anonymous("/v1/functions/echo/invoke", {
        method: "POST",
        headers: auth,
        body: "{}",
      });
      expect(ok.status).toBe(200);
      const denied = await node.anonymous("/v1/functions/telemetry/invoke", {
        method: "POST",
        headers: auth,
        body: "{}",
      });
      expect(denied.status).toBe(403);
    } finally {
      await node.dispose();
    }
  });

  it("refuses an unknown role with exit 2 and a message", async () => {
    const run = await runCli([
      "keys",
      "create",
      "--name",
      "x",
      "--role",
      "root",
      "--data-dir",
      tempDataDir(),
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--role must be one of");
  });
});

describe("sutazai audit verify", () => {
  async function dataDirWithAudit(): Promise<string> {
    const dir = tempDataDir();
    for (const name of ["a", "b", "c", "d"]) {
      const run = await runCli(["keys", "create", "--name", name, "--role", "developer", "--data-dir", dir]);
      expect(run.code, run.stderr).toBe(0);
    }
    return dir;
  }

  it("an untouched log verifies", async () => {
    const dir = await dataDirWithAudit();
    const run = await runCli(["audit", "verify", "--data-dir", dir]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/intact: \d+ entries/);
  });

  it.each([
    ["an altered row", "UPDATE audit_log SET outcome = 'denied' WHERE seq = 2", 2],
    ["a deleted row", "DELETE FROM audit_log WHERE seq = 2", 3],
    [
      "reordered rows",
      "UPDATE audit_log SET details = (SELECT details FROM audit_log WHERE seq = 3), target = (SELECT target FROM audit_log WHERE seq = 3) WHERE seq = 2",
      2,
    ],
  ])("%s fails verification and names the entry", async (_name, sql, seq) => {
    const dir = await dataDirWithAudit();
    const db = dbOf(dir);
    await db.execute(sql);
    db.close();
    const run = await runCli(["audit", "verify", "--data-dir", dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`seq=${seq}`);
  });

  it("--node verifies the chain an edge sent this server by sync", async () => {
    const dir = await dataDirWithAudit();
    const db = dbOf(dir);
    // What sync delivers: the edge's own rows, under its node id.
    await db.execute(
      "INSERT INTO edge_audit_log SELECT 'edge-7', seq, id, ts, actor, role, action, target, outcome, details, prev_hash, hash FROM audit_log",
    );
    db.close();
    const ok = await runCli(["audit", "verify", "--node", "edge-7", "--data-dir", dir]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/Audit log of edge edge-7 intact: \d+ entries/);
    const db2 = dbOf(dir);
    await db2.execute("UPDATE edge_audit_log SET actor = 'x' WHERE site = 'edge-7' AND seq = 3");
    db2.close();
    const broken = await runCli(["audit", "verify", "--node", "edge-7", "--data-dir", dir]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain("edge edge-7 BROKEN at entry seq=3");
    // A mistyped node id is not a clean bill of health.
    const unknown = await runCli(["audit", "verify", "--node", "edge-8", "--data-dir", dir]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('No audit entries from node "edge-8"');
    // The server's own chain is another matter, and intact.
    expect((await runCli(["audit", "verify", "--data-dir", dir])).code).toBe(0);
  });
});
