CREATE TABLE `workflow_steps` (
	`workflow_id` text NOT NULL,
	`step_id` text NOT NULL,
	`position` integer NOT NULL,
	`function` text NOT NULL,
	`input` text NOT NULL,
	`depends_on` text NOT NULL,
	`status` text NOT NULL,
	`invocation_id` text,
	`output` text,
	`error` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`queued_at` integer,
	`started_at` integer,
	`finished_at` integer,
	PRIMARY KEY(`workflow_id`, `step_id`),
	FOREIGN KEY (`workflow_id`) REFERENCES `workflows`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `workflow_steps_invocation` ON `workflow_steps` (`invocation_id`);--> statement-breakpoint
CREATE INDEX `workflow_steps_status` ON `workflow_steps` (`status`);--> statement-breakpoint
CREATE TABLE `workflows` (
	`id` text PRIMARY KEY NOT NULL,
	`status` text NOT NULL,
	`on_failure` text NOT NULL,
	`principal` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`error` text
);
--> statement-breakpoint
CREATE INDEX `workflows_status` ON `workflows` (`status`);