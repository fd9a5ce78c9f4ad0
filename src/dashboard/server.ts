/** Serving a dashboard app over HTTP (node:http + the Hono adapter). */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";

export interface RunningServer {
  server: Server;
  /** Bound address (the real port when 0 was asked for). */
  host: string;
  port: number;
  /** `http://host:port` (IPv6 hosts in brackets). */
  origin: string;
  /** Stops accepting connections, closes idle and open ones, resolves when closed. */
  close(): Promise<void>;
}

/** Listens on `host:port`; rejects with the listen error (e.g. EADDRINUSE). */
export async function startServer(
  fetch: (request: Request) => Promise<Response> | Response,
  listen: { host: string; port: number },
  onError?: (error: unknown) => void,
): Promise<RunningServer> {
  const listener = getRequestListener(fetch, {
    errorHandler: (error) => {
      onError?.(error);
    },
  });
  const server = createServer((req, res) => {
    void listener(req, res);
  });
  // Slow clients must not hold sockets forever.
  server.headersTimeout = 30_000;
  server.requestTimeout = 120_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    const fail = (error: Error) => {
      server.off("listening", ok);
      reject(error);
    };
    const ok = () => {
      server.off("error", fail);
      resolve();
    };
    server.once("error", fail);
    server.once("listening", ok);
    server.listen(listen.port, listen.host);
  });
  const address = server.address() as AddressInfo;
  const host = address.address;
  const origin = `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`;
  return {
    server,
    host,
    port: address.port,
    origin,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
