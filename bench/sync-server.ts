import { parseArgs } from "node:util";
import { createSyncHub } from "../sync/hub.ts";
import { serveBench } from "./lib/serve-bench.ts";
import { benchHubApp, replica } from "./lib/sync-replicas.ts";

// The server side of the sync benchmark in its own process, as an edge meets it after a
// reconnect: a server replica (site "bench-server") serving the sync routes over HTTP.
const { values } = parseArgs({ options: { "data-dir": { type: "string" } } });
if (!values["data-dir"]) throw new Error("--data-dir is required");
const server = await replica(values["data-dir"], "server", "server");
serveBench(benchHubApp(createSyncHub(server.ctx!)), () => server.database.close());
