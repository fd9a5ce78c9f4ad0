/**
 * A private redis-server for fault tests (restart, authentication): started by the test on a free
 * loopback port with its own directory, stopped by its own pid. Binary: KARTON_TEST_REDIS_SERVER,
 * else `redis-server` from PATH. Fails (never skips) when the binary cannot be started.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";

export interface PrivateRedis {
  readonly port: number;
  readonly dir: string;
  /** Starts (or restarts) the server on the same port and waits until it answers. */
  start(): Promise<void>;
  /** Stops the server (SIGTERM to our child, then SIGKILL after 5 s) and waits for its exit. */
  stop(): Promise<void>;
  /** Kills the server with SIGKILL (a crash: no shutdown save) and waits for its exit. */
  kill(): Promise<void>;
  /** Stops it and removes its directory. */
  destroy(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function privateRedis(extraArgs: string[] = []): Promise<PrivateRedis> {
  const binary = process.env.KARTON_TEST_REDIS_SERVER || "redis-server";
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "karton-redis-"));
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    if (child) return;
    const args = [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--logfile",
      join(dir, "redis.log"),
      ...extraArgs,
    ];
    const proc = spawn(binary, args, { stdio: "ignore" });
    child = proc;
    exited = new Promise((resolve) => proc.once("exit", () => resolve()));
    const failed = new Promise<never>((_, reject) =>
      proc.once("error", (err) => reject(new Error(`cannot start ${binary}: ${err.message}`))),
    );
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis({
        host: "127.0.0.1",
        port,
        lazyConnect: true,
        enableReadyCheck: false,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
      });
      probe.on("error", () => {});
      try {
        await Promise.race([probe.connect().then(() => probe.call("PING")), failed]);
        return;
      } catch (err) {
        // NOAUTH means it is up (password-protected server)
        if (/NOAUTH/.test((err as Error).message)) return;
        if ((err as Error).message.startsWith("cannot start") || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 20));
      } finally {
        probe.disconnect();
      }
    }
  };

  const stop = async (signal: NodeJS.Signals = "SIGTERM"): Promise<void> => {
    const proc = child;
    if (!proc) return;
    child = null;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    port,
    dir,
    start,
    stop: () => stop(),
    kill: () => stop("SIGKILL"),
    async destroy() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
