CREATE TABLE `edge_audit_log` (
	`site` text NOT NULL,
	`seq` integer NOT NULL,
	`id` text NOT NULL,
	`ts` integer NOT NULL,
	`actor` text NOT NULL,
	`role` text,
	`action` text NOT NULL,
	`target` text,
	`outcome` text NOT NULL,
	`details` text,
	`prev_hash` text NOT NULL,
	`hash` text NOT NULL,
	PRIMARY KEY(`site`, `seq`)
);
--> statement-breakpoint
CREATE INDEX `edge_audit_log_action` ON `edge_audit_log` (`site`,`action`,`seq`);--> statement-breakpoint
CREATE INDEX `edge_audit_log_ts` ON `edge_audit_log` (`ts`);--> statement-breakpoint
DROP INDEX `invocations_idempotency`;--> statement-breakpoint
ALTER TABLE `invocations` ADD `caller` text;--> statement-breakpoint
ALTER TABLE `invocations` ADD `placement` text;--> statement-breakpoint
CREATE UNIQUE INDEX `invocations_node_idempotency` ON `invocations` (`node_id`,`function`,`idempotency_key`);--> statement-breakpoint
ALTER TABLE `knowledge_chunks` ADD `embedding` text;