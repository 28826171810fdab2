/**
 * The sync tables of schema/sync.ts as DDL, with IF NOT EXISTS so installSync can create
 * them on a database whose migrations do not have them yet. Keep in step with
 * schema/sync.ts; once drizzle-kit has generated a migration for them this is a no-op
 * (migrations run before installSync).
 */
const SYNC_TABLES_SQL = `
CREATE TABLE IF NOT EXISTS \`sync_clock\` (
	\`id\` integer PRIMARY KEY NOT NULL,
	\`site_id\` text NOT NULL,
	\`role\` text NOT NULL,
	\`hlc\` integer DEFAULT 0 NOT NULL,
	\`applying\` integer DEFAULT 0 NOT NULL,
	\`schema_version\` integer DEFAULT 0 NOT NULL,
	\`wall_offset_ms\` integer DEFAULT 0 NOT NULL,
	\`gc_seq\` integer DEFAULT 0 NOT NULL,
	\`folded_seq\` integer DEFAULT 0 NOT NULL
);
CREATE TABLE IF NOT EXISTS \`sync_changes\` (
	\`seq\` integer PRIMARY KEY NOT NULL,
	\`tbl\` text NOT NULL,
	\`pk\` text NOT NULL,
	\`op\` text NOT NULL,
	\`cols\` text,
	\`hlc\` integer NOT NULL,
	\`site\` text NOT NULL,
	\`sv\` integer NOT NULL
);
CREATE TABLE IF NOT EXISTS \`sync_versions\` (
	\`tbl\` text NOT NULL,
	\`pk\` text NOT NULL,
	\`stamps\` text DEFAULT '{}' NOT NULL,
	\`del\` text,
	\`vals\` text,
	PRIMARY KEY(\`tbl\`, \`pk\`)
);
CREATE TABLE IF NOT EXISTS \`sync_peers\` (
	\`site\` text PRIMARY KEY NOT NULL,
	\`peer_site\` text,
	\`key_id\` text,
	\`acked_seq\` integer DEFAULT 0 NOT NULL,
	\`pull_cursor\` integer DEFAULT 0 NOT NULL,
	\`pending\` integer DEFAULT 0 NOT NULL,
	\`schema_version\` integer,
	\`last_seen_at\` integer,
	\`last_push_at\` integer,
	\`last_pull_at\` integer,
	\`skew_rejections\` integer DEFAULT 0 NOT NULL,
	\`last_error\` text
);
CREATE TABLE IF NOT EXISTS \`sync_quarantine\` (
	\`id\` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	\`at\` integer NOT NULL,
	\`kind\` text NOT NULL,
	\`site\` text NOT NULL,
	\`tbl\` text NOT NULL,
	\`pk\` text NOT NULL,
	\`change\` text NOT NULL,
	\`reason\` text NOT NULL
);
CREATE INDEX IF NOT EXISTS \`sync_quarantine_row\` ON \`sync_quarantine\` (\`tbl\`, \`pk\`);
CREATE TABLE IF NOT EXISTS \`sync_tables\` (
	\`tbl\` text PRIMARY KEY NOT NULL,
	\`installed_at\` integer NOT NULL,
	\`uniform_cols\` text
);
CREATE TABLE IF NOT EXISTS \`sync_log_batches\` (
	\`seq\` integer PRIMARY KEY NOT NULL,
	\`n\` integer NOT NULL,
	\`changes\` text NOT NULL
);
CREATE TABLE IF NOT EXISTS \`sync_bootstrap\` (
	\`tbl\` text NOT NULL,
	\`pk\` text NOT NULL,
	PRIMARY KEY(\`tbl\`, \`pk\`)
);
`;

/** The DDL above, one statement per entry. */
export const SYNC_TABLE_STATEMENTS: string[] = SYNC_TABLES_SQL.split(";")
  .map((s) => s.trim())
  .filter(Boolean)
  .map((s) => `${s};`);
