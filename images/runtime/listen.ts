/**
 * Starting and stopping a listening server, shared by every role: listen resolves with the
 * port actually bound (port 0 in tests) or rejects with the bind error; closeServer stops
 * accepting and closes idle keep-alive sockets so shutdown does not wait for them.
 */
import type { AddressInfo, Server } from "node:net";

export function listen(server: Server, port: number, host?: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Resolves once the server has stopped; a server that never listened resolves at once. */
export function closeServer(server: (Server & { closeIdleConnections?: () => void }) | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!server?.listening) return resolve();
    server.close(() => resolve());
    server.closeIdleConnections?.();
  });
}
