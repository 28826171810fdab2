import { index, integer, real, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { invocations } from "./invocations.ts";

/** Sensor readings received by a gateway. Insert-only. */
export const telemetryReadings = sqliteTable(
  "telemetry_readings",
  {
    id: text("id").primaryKey(),
    device: text("device").notNull(),
    metric: text("metric").notNull(),
    value: real("value").notNull(),
    ts: integer("ts").notNull(), // unix ms, as reported by the device (or receipt time)
    invocationId: text("invocation_id").references(() => invocations.id, { onDelete: "set null" }),
  },
  (t) => [index("telemetry_series").on(t.device, t.metric, t.ts)],
);
