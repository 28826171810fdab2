import type { Database } from "../db.ts";
import { AppError } from "../errors.ts";
import { uuidv7 } from "../ids.ts";
import type { Logger } from "../log.ts";
import { replaceLoneSurrogates } from "../lone-surrogates.ts";
import { canonicalJson } from "./canonical-json.ts";
import { type ChainFields, chainHash, GENESIS_HASH } from "./chain.ts";
import { type AuditEntry, type AuditQuery, queryAudit, toEntry } from "./query.ts";
import { type VerifyResult, verifyChain } from "./verify.ts";

export type { AuditEntry, AuditQuery } from "./query.ts";

export interface AuditInput {
  actor: string;
  role?: string | null;
  action: string;
  target?: string | null;
  outcome: string;
  /** Never raw secrets or (unless a function opts in) raw input: privacy by default. */
  details?: Record<string, unknown> | null;
  ts?: number;
}

/** A row as written: details still in its stored (canonical JSON) form. */
type Chained = ChainFields & { prevHash: string; hash: string };

export interface AuditLog {
  /** Resolves once the entry is committed. Appends in the same tick share one write. */
  append(input: AuditInput): Promise<AuditEntry>;
  /** Fire-and-forget append for hot paths: a failed write is logged, never thrown. */
  record(input: AuditInput): void;
  /** Waits until everything appended so far is written. */
  flush(): Promise<void>;
  query(q?: AuditQuery): Promise<{ entries: AuditEntry[]; next: number | null }>;
  /** Walks this node's chain, or (on a server) the chain an edge sent by sync. */
  verify(node?: string): Promise<VerifyResult>;
}

interface Pending {
  fields: Omit<ChainFields, "seq">;
  resolve(row: Chained): void;
  reject(err: unknown): void;
}

// One statement per batch whatever its size: the rows travel as one JSON array parameter,
// so the SQL text (and its prepare cost) is constant and no bound-parameter limit applies.
const INSERT = `INSERT INTO audit_log (seq, id, ts, actor, role, action, target, outcome, details, prev_hash, hash)
  SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, value->>8, value->>9, value->>10
  FROM json_each(?)`;
const MAX_BATCH = 5000;
const MAX_ATTEMPTS = 50;

/**
 * The tamper-evident audit log with group commit: entries appended while a write is in
 * flight (or in the same tick) are chained in memory and written in one transaction, so
 * thousands of appends a second cost a handful of writes.
 */
export function createAuditLog(
  database: Database,
  opts: { log?: Logger; now?: () => number } = {},
): AuditLog {
  const { client, db } = database;
  const now = opts.now ?? Date.now;
  let queue: Pending[] = [];
  let running: Promise<void> | null = null;
  let head: { seq: number; hash: string } | null = null; // cached; null = read it again

  function schedule(): void {
    if (running) return;
    running = new Promise<void>((resolve) => setImmediate(resolve)).then(drain).finally(() => {
      running = null;
      if (queue.length > 0) schedule();
    });
  }

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.slice(0, MAX_BATCH);
      queue = queue.slice(batch.length);
      try {
        const written = await write(batch.map((p) => p.fields));
        for (const [i, p] of batch.entries()) p.resolve(written[i]!);
      } catch (err) {
        head = null;
        for (const p of batch) p.reject(err);
      }
    }
  }

  // Optimistic chaining without holding a transaction across awaits (an in-memory
  // database has one connection, which a held transaction would block): the batch links
  // to the head we last saw and claims the seq numbers after it. If another process
  // appended meanwhile, those seqs are taken, the primary key refuses the whole
  // statement (SQLite statements are atomic), and we reread the head and chain again.
  async function write(rows: Array<Omit<ChainFields, "seq">>): Promise<Chained[]> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      head ??= await readHead();
      const entries = chain(head, rows);
      const args = [JSON.stringify(entries.map(toArgs))];
      try {
        await client.execute({ sql: INSERT, args });
      } catch (err) {
        head = null;
        if (isSeqConflict(err)) continue;
        throw err;
      }
      const last = entries[entries.length - 1]!;
      head = { seq: last.seq, hash: last.hash };
      return entries;
    }
    throw new Error(`audit log: could not append after ${MAX_ATTEMPTS} attempts (contended chain head)`);
  }

  async function readHead(): Promise<{ seq: number; hash: string }> {
    // The sqlite_sequence high-water mark keeps numbering past rows deleted from the end,
    // so such a deletion stays visible to verify() as a gap even after later appends.
    const rs = await client.execute(`SELECT
      (SELECT seq FROM audit_log ORDER BY seq DESC LIMIT 1) AS seq,
      (SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1) AS hash,
      (SELECT seq FROM sqlite_sequence WHERE name = 'audit_log') AS hwm`);
    const row = rs.rows[0];
    const seq = Math.max(Number(row?.seq ?? 0), Number(row?.hwm ?? 0));
    return { seq, hash: row?.hash == null ? GENESIS_HASH : String(row.hash) };
  }

  function enqueue(input: AuditInput): Promise<Chained> {
    let fields: Omit<ChainFields, "seq">;
    try {
      const ts = Math.trunc(input.ts ?? now());
      if (!Number.isSafeInteger(ts)) throw new TypeError("audit entry: ts must be unix milliseconds");
      fields = {
        id: uuidv7(ts),
        ts,
        actor: clean(input.actor),
        role: input.role == null ? null : clean(input.role),
        action: clean(input.action),
        target: input.target == null ? null : clean(input.target),
        outcome: clean(input.outcome),
        details: input.details == null ? null : canonicalJson(input.details),
      };
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      queue.push({ fields, resolve, reject });
      schedule();
    });
  }

  return {
    // Parsing details back into an object is left to callers that want the entry.
    append: (input) => enqueue(input).then(toEntry),
    record(input) {
      enqueue(input).catch((err: unknown) =>
        opts.log?.error("audit append failed", { action: input.action, err }),
      );
    },
    async flush() {
      while (running) await running;
    },
    query: (q) => queryAudit(db, q),
    async verify(node) {
      const result = await verifyChain(client, node);
      // "intact, 0 entries" for a mistyped node id would read as a clean bill of health.
      if (node !== undefined && result.ok && result.count === 0 && !(await knownSite(client, node))) {
        throw new AppError(
          404,
          "NODE_UNKNOWN",
          `No audit entries from node "${node}" have reached this server, and no such node has synced here (GET /v1/nodes lists them).`,
        );
      }
      return result;
    },
  };
}

async function knownSite(client: Database["client"], site: string): Promise<boolean> {
  const table = await client.execute(
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sync_peers'",
  );
  if (table.rows.length === 0) return false; // sync never ran on this database
  const rs = await client.execute({ sql: "SELECT 1 FROM sync_peers WHERE site = ?", args: [site] });
  return rs.rows.length > 0;
}

// NUL and lone UTF-16 surrogates do not survive a round trip through SQLite text (NUL
// truncates on read; a lone surrogate becomes U+FFFD, or invalid UTF-8 that crashes the
// libsql driver when it comes through a JSON function), so the stored value would no
// longer match its hash. Hostile input reaches these fields (paths, names): replace them.
// `details` needs no cleaning: canonical JSON escapes both as ASCII.
const clean = (value: unknown): string => replaceLoneSurrogates(String(value)).replaceAll("\0", "\ufffd");

function chain(head: { seq: number; hash: string }, rows: Array<Omit<ChainFields, "seq">>): Chained[] {
  let { seq, hash: prevHash } = head;
  return rows.map((fields) => {
    const chained: ChainFields = { ...fields, seq: ++seq };
    const hash = chainHash(prevHash, chained);
    const row = { ...chained, prevHash, hash };
    prevHash = hash;
    return row;
  });
}

const toArgs = (e: Chained) => [
  e.seq,
  e.id,
  e.ts,
  e.actor,
  e.role,
  e.action,
  e.target,
  e.outcome,
  e.details,
  e.prevHash,
  e.hash,
];

/** Another writer took our seq: SQLITE_CONSTRAINT_PRIMARYKEY, or its message on remote (hrana) clients. */
function isSeqConflict(err: unknown): boolean {
  const e = err as { extendedCode?: string; message?: string };
  return (
    e?.extendedCode === "SQLITE_CONSTRAINT_PRIMARYKEY" ||
    /UNIQUE constraint failed: audit_log\.seq/.test(String(e?.message))
  );
}
