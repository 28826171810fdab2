CREATE TABLE `knowledge_chunks` (
	`id` text PRIMARY KEY NOT NULL,
	`collection_id` text NOT NULL,
	`document_id` text NOT NULL,
	`ordinal` integer NOT NULL,
	`text` text NOT NULL,
	`heading_path` text NOT NULL,
	`start` integer NOT NULL,
	`end` integer NOT NULL,
	`tokens` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`document_id`) REFERENCES `knowledge_documents`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `knowledge_chunks_document` ON `knowledge_chunks` (`document_id`,`ordinal`);--> statement-breakpoint
CREATE INDEX `knowledge_chunks_collection` ON `knowledge_chunks` (`collection_id`);--> statement-breakpoint
CREATE TABLE `knowledge_collections` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`embedding_model` text NOT NULL,
	`dimension` integer NOT NULL,
	`chunk_tokens` integer NOT NULL,
	`overlap_tokens` integer NOT NULL,
	`distributed` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `knowledge_collections_name` ON `knowledge_collections` (`name`);--> statement-breakpoint
CREATE TABLE `knowledge_documents` (
	`id` text PRIMARY KEY NOT NULL,
	`collection_id` text NOT NULL,
	`key` text NOT NULL,
	`title` text,
	`format` text NOT NULL,
	`metadata` text DEFAULT '{}' NOT NULL,
	`content_hash` text NOT NULL,
	`version` integer NOT NULL,
	`chars` integer NOT NULL,
	`chunk_count` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`collection_id`) REFERENCES `knowledge_collections`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `knowledge_documents_key` ON `knowledge_documents` (`collection_id`,`key`);--> statement-breakpoint
CREATE TABLE `knowledge_indexes` (
	`collection_id` text PRIMARY KEY NOT NULL,
	`vector_table` text NOT NULL,
	`fts_table` text NOT NULL,
	`embedding_model` text NOT NULL,
	`dimension` integer NOT NULL,
	`generation` integer NOT NULL,
	`status` text NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`collection_id`) REFERENCES `knowledge_collections`(`id`) ON UPDATE no action ON DELETE cascade
);
