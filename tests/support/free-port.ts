import { createServer } from "node:net";

/**
 * A TCP port nobody listens on right now, chosen by the OS. Another process could take it
 * before the caller binds it; tests accept that small race for readable fixed URLs.
 */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port assigned")),
      );
    });
  });
}
