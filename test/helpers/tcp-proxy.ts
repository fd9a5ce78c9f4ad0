/**
 * A TCP proxy on a loopback port that fault tests can cut: `pause()` closes the listening socket
 * and destroys every open connection (clients see ECONNREFUSED / ECONNRESET, as when the server
 * is down), `resume()` listens again on the same port. Used to make S3 unavailable for a while
 * without touching the shared Ceph cluster.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export interface TcpProxy {
  /** The port clients connect to (127.0.0.1). */
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly paused: boolean;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Stops accepting and drops every open connection. */
  pause(): Promise<void>;
  /** Accepts connections again on the same port. */
  resume(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a proxy forwarding 127.0.0.1:<free port> to `target` (`host:port` or an http URL). */
export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port: targetPort } = /^[a-z]+:\/\//.test(target)
    ? new URL(target)
    : new URL(`tcp://${target}`);
  const host = hostname.replace(/^\[|\]$/g, "");
  const dport = Number(targetPort);
  const sockets = new Set<Socket>();
  let accepted = 0;
  let paused = false;
  let server: Server | undefined;
  let port = 0;

  const listen = async (): Promise<void> => {
    const s = createServer((client) => {
      accepted++;
      const upstream = connect({ host, port: dport });
      sockets.add(client);
      sockets.add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on("error", drop);
      upstream.on("error", drop);
      client.on("close", drop);
      upstream.on("close", drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
        s.off("error", reject);
        resolve();
      });
    });
    const address = s.address();
    port = typeof address === "object" && address ? address.port : port;
    server = s;
  };

  const stop = async (): Promise<void> => {
    const s = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen();
  return {
    get port() {
      return port;
    },
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get paused() {
      return paused;
    },
    get connections() {
      return accepted;
    },
    async pause() {
      if (paused) return;
      paused = true;
      await stop();
    },
    async resume() {
      if (!paused) return;
      // The port was ours a moment ago; retry briefly in case the kernel has not released it yet.
      for (let attempt = 0; ; attempt++) {
        try {
          await listen();
          break;
        } catch (error) {
          if (attempt >= 50) throw error;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      paused = false;
    },
    async close() {
      paused = true;
      await stop();
    },
  };
}
