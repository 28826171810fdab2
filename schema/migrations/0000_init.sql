CREATE TABLE `invocations` (
	`id` text PRIMARY KEY NOT NULL,
	`function` text NOT NULL,
	`trigger` text NOT NULL,
	`status` text NOT NULL,
	`attempt` integer DEFAULT 0 NOT NULL,
	`max_attempts` integer DEFAULT 1 NOT NULL,
	`input` text,
	`output` text,
	`error` text,
	`progress` text,
	`idempotency_key` text,
	`principal` text,
	`node_id` text NOT NULL,
	`queued_at` integer,
	`started_at` integer,
	`finished_at` integer,
	`duration_ms` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `invocations_idempotency` ON `invocations` (`function`,`idempotency_key`);--> statement-breakpoint
CREATE INDEX `invocations_function_status` ON `invocations` (`function`,`status`,`id`);--> statement-breakpoint
CREATE INDEX `invocations_status` ON `invocations` (`status`,`id`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`queue` text NOT NULL,
	`payload` text NOT NULL,
	`status` text NOT NULL,
	`attempt` integer DEFAULT 0 NOT NULL,
	`max_attempts` integer DEFAULT 1 NOT NULL,
	`backoff_ms` integer DEFAULT 1000 NOT NULL,
	`run_at` integer NOT NULL,
	`lease_until` integer,
	`worker_id` text,
	`last_error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `jobs_ready` ON `jobs` (`queue`,`status`,`run_at`);--> statement-breakpoint
CREATE INDEX `jobs_lease` ON `jobs` (`status`,`lease_until`);--> statement-breakpoint
CREATE TABLE `node_meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `state` (
	`namespace` text NOT NULL,
	`key` text NOT NULL,
	`value` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`namespace`, `key`)
);
--> statement-breakpoint
CREATE TABLE `telemetry_readings` (
	`id` text PRIMARY KEY NOT NULL,
	`device` text NOT NULL,
	`metric` text NOT NULL,
	`value` real NOT NULL,
	`ts` integer NOT NULL,
	`invocation_id` text,
	FOREIGN KEY (`invocation_id`) REFERENCES `invocations`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `telemetry_series` ON `telemetry_readings` (`device`,`metric`,`ts`);