/**
 * A throwaway certificate authority (openssl) and a private redis-server that only speaks TLS and
 * only lets in one ACL user, for the security tests. Everything lives in a temporary directory and
 * the server is stopped by its own pid.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort } from "../backend/redis-server.js";

export interface ThrowawayCa {
  dir: string;
  /** PEM files. */
  caCert: string;
  serverCert: string;
  serverKey: string;
}

/** A CA and a server certificate for 127.0.0.1 / localhost, valid for a day (EC P-256 keys). */
export function throwawayCa(dir = mkdtempSync(join(tmpdir(), "karton-ca-"))): ThrowawayCa {
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "1",
    "-subj",
    "/CN=karton-ts test CA",
  );
  openssl("req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  openssl(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    "1",
    "-extfile",
    "ext.cnf",
  );
  return {
    dir,
    caCert: join(dir, "ca.crt"),
    serverCert: join(dir, "server.crt"),
    serverKey: join(dir, "server.key"),
  };
}

export interface TlsRedis {
  port: number;
  ca: ThrowawayCa;
  username: string;
  password: string;
  /** An admin connection (TLS, the ACL user). */
  client(db?: number): Promise<Redis>;
  destroy(): Promise<void>;
}

/**
 * redis-server with `--port 0` (no plain-text port), TLS on a free port (client certificates not
 * required), the `default` user disabled and one user `username` with every permission.
 */
export async function tlsRedis(username: string, password: string): Promise<TlsRedis> {
  const ca = throwawayCa();
  const port = await freePort();
  const binary = process.env.KARTON_TEST_REDIS_SERVER || "redis-server";
  const proc: ChildProcess = spawn(
    binary,
    [
      "--port",
      "0",
      "--tls-port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--tls-cert-file",
      ca.serverCert,
      "--tls-key-file",
      ca.serverKey,
      "--tls-ca-cert-file",
      ca.caCert,
      "--tls-auth-clients",
      "no",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      ca.dir,
      "--logfile",
      join(ca.dir, "redis.log"),
      // Each word its own argument: redis-server quotes an argument that contains spaces.
      "--user",
      "default",
      "off",
      "--user",
      username,
      "on",
      `>${password}`,
      "~*",
      "&*",
      "+@all",
    ],
    { stdio: "ignore" },
  );
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const caPem = readFileSync(ca.caCert);
  const connect = async (db = 0): Promise<Redis> => {
    const client = new Redis({
      host: "127.0.0.1",
      port,
      db,
      username,
      password,
      tls: { ca: caPem, servername: "localhost" },
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    });
    client.on("error", () => {});
    await client.connect();
    return client;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const probe = await connect();
      await probe.ping();
      probe.disconnect();
      break;
    } catch (error) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        let log = "";
        try {
          log = readFileSync(join(ca.dir, "redis.log"), "utf8");
        } catch {}
        throw new Error(`TLS redis-server did not come up: ${(error as Error).message}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port,
    ca,
    username,
    password,
    client: connect,
    async destroy() {
      if (proc.exitCode === null) {
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(ca.dir, { recursive: true, force: true });
    },
  };
}
