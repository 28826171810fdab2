import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";

/**
 * Serves a benchmark's own server script (bare-server.ts, floor-server.ts) on a free port of
 * 127.0.0.1 and logs the "listening" line a node prints, so startScript() waits for both
 * alike. On SIGTERM: stop accepting, run `onStop`, exit.
 */
export function serveBench(
  app: { fetch: (req: Request) => Response | Promise<Response> },
  onStop: () => void | Promise<void> = () => {},
): void {
  const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => {
    const { port } = server.address() as AddressInfo;
    console.error(JSON.stringify({ msg: "listening", url: `http://127.0.0.1:${port}` }));
  });
  process.once("SIGTERM", () =>
    server.close(async () => {
      await onStop();
      process.exit(0);
    }),
  );
}
