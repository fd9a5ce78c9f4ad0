/**
 * Security: Redis over TLS (a throwaway CA made with openssl) with an ACL user, S3 credentials from
 * the environment and from the AWS SDK credential chain, and no secret — the Redis password, the S3
 * secret key, the dashboard token — in any log line, error message, `karton list` output or
 * dashboard page. Every component runs as a real child process (`node --import tsx ...`), the CA
 * trusted through NODE_EXTRA_CA_CERTS as an operator would do it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3ObjectStore } from "../../src/backend/s3/s3-object-store.js";
import { KartonConfig } from "../../src/config/config.js";
import { Resource } from "../../src/resource/index.js";
import { Producer } from "../../src/service/producer.js";
import { parseTask, serializeTask } from "../../src/task/document.js";
import { TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";
import { waitFor } from "../helpers/mini-router.js";
import { nextRedisDb, testServices, uniqueName } from "../helpers/services.js";
import { type TlsRedis, tlsRedis } from "./tls-redis.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const TSX_LOADER = pathToFileURL(join(REPO, "node_modules/tsx/dist/loader.mjs")).href;
const services = testServices();

const REDIS_USER = "karton-acl";
const REDIS_PASSWORD = `rpw-${randomBytes(12).toString("hex")}`;
const DASHBOARD_TOKEN = `dtok-${randomBytes(12).toString("hex")}`;
const SECRETS = {
  "Redis password": REDIS_PASSWORD,
  "S3 secret key": services.s3.secretKey,
  "dashboard token": DASHBOARD_TOKEN,
};

/** Fails naming the secret and showing where it appears. */
function expectNoSecret(text: string, where: string): void {
  for (const [name, secret] of Object.entries(SECRETS)) {
    const at = text.indexOf(secret);
    if (at >= 0) {
      throw new Error(
        `${name} appears in ${where}: ...${text.slice(Math.max(0, at - 120), at + secret.length + 40)}...`,
      );
    }
  }
}

interface Child {
  proc: ChildProcess;
  output(): string;
  exit: Promise<number | null>;
}

const children: Child[] = [];

function runNode(script: string, args: string[], env: NodeJS.ProcessEnv): Child {
  const proc = spawn(process.execPath, ["--import", TSX_LOADER, join(REPO, script), ...args], {
    cwd: work,
    env: { PATH: process.env.PATH, HOME: work, NO_COLOR: "1", NODE_NO_WARNINGS: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const child = {
    proc,
    output: () => out,
    exit: new Promise<number | null>((r) => proc.on("exit", (code) => r(code))),
  };
  children.push(child);
  return child;
}

/** Runs to the end (killed after `timeoutMs`). */
async function runToExit(script: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 40_000) {
  const child = runNode(script, args, env);
  const timer = setTimeout(() => child.proc.kill("SIGKILL"), timeoutMs);
  const code = await child.exit;
  clearTimeout(timer);
  return { code, output: child.output() };
}

async function stop(child: Child): Promise<number | null> {
  if (child.proc.exitCode !== null) return child.proc.exitCode;
  child.proc.kill("SIGTERM");
  return await child.exit;
}

let work: string;
let redis: TlsRedis;
let admin: Redis;
let objects: S3ObjectStore;
let bucket: string;

function iniFile(redisLines: string[], extra: string[] = []): string {
  const path = join(work, `${uniqueName("karton")}.ini`);
  writeFileSync(
    path,
    [
      "[redis]",
      ...redisLines,
      "[s3]",
      `address = ${services.s3.address}`,
      `access_key = ${services.s3.accessKey}`,
      `secret_key = ${services.s3.secretKey}`,
      `bucket = ${bucket}`,
      "[dashboard]",
      "listen = 127.0.0.1:0",
      `token = ${DASHBOARD_TOKEN}`,
      ...extra,
      "",
    ].join("\n"),
  );
  return path;
}

const tlsLines = (password = REDIS_PASSWORD) => [
  "host = 127.0.0.1",
  `port = ${redis.port}`,
  "ssl = true",
  `username = ${REDIS_USER}`,
  `password = ${password}`,
];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "karton-security-"));
  redis = await tlsRedis(REDIS_USER, REDIS_PASSWORD);
  admin = await redis.client();
  objects = new S3ObjectStore({
    address: services.s3.address,
    accessKey: services.s3.accessKey,
    secretKey: services.s3.secretKey,
  });
  bucket = uniqueName("security");
  await objects.createBucket(bucket);
}, 60_000);

afterAll(async () => {
  for (const child of children) if (child.proc.exitCode === null) child.proc.kill("SIGKILL");
  admin?.disconnect();
  try {
    const versions = await objects.listObjectVersions(bucket);
    const entries = [...versions].flatMap(([key, ids]) => ids.map((versionId) => ({ key, versionId })));
    if (entries.length > 0) await objects.deleteObjects(bucket, entries);
    await objects.deleteBucket(bucket);
  } catch {
    // best effort
  }
  objects?.close();
  await redis?.destroy();
  rmSync(work, { recursive: true, force: true });
});

const trustCa = () => ({ NODE_EXTRA_CA_CERTS: redis.ca.caCert });

describe("Redis over TLS with an ACL user", () => {
  it("karton-system connects as the ACL user over TLS, routes, and logs no secret (DEBUG level)", async () => {
    const system = runNode(
      "src/system/main.ts",
      ["--config-file", iniFile(tlsLines()), "--log-level", "DEBUG"],
      trustCa(),
    );
    await waitFor(
      "karton-system started",
      () => /Manager karton\.system started/.test(system.output()),
      40_000,
    );
    await admin.hset(
      "karton.binds",
      "security.consumer",
      JSON.stringify({
        info: null,
        version: "5.9.1",
        filters: [{ type: "secure" }],
        persistent: true,
        service_version: null,
        is_async: false,
      }),
    );
    const task = new Task({ type: "secure", origin: "security.test" });
    await admin.set(`karton.task:${task.uid}`, serializeTask(task));
    await admin.rpush("karton.tasks", task.uid);
    await waitFor("routed", async () => {
      const raw = await admin.get(`karton.task:${task.uid}`);
      return raw !== null && parseTask(raw).status === TaskState.Finished;
    });
    expect(await admin.llen("karton.queue.normal:security.consumer")).toBe(1);
    // Its connections are the ACL user's (the default user is disabled on this server).
    const clients = await admin.client("LIST");
    expect(String(clients)).toMatch(new RegExp(`name=karton\\.system\\S* .*user=${REDIS_USER}`));
    expect(system.output()).toContain("Configuration (secrets redacted)");
    expect(system.output()).toContain('"password":"***"');
    expect(await stop(system)).toBe(0);
    expectNoSecret(system.output(), "karton-system's output");
  });

  it("a rediss:// URL with the credentials inside works and is never shown with them", async () => {
    const url = `rediss://${REDIS_USER}:${REDIS_PASSWORD}@127.0.0.1:${redis.port}/0`;
    const system = runNode(
      "src/system/main.ts",
      ["--config-file", iniFile([`url = ${url}`]), "--log-level", "DEBUG"],
      trustCa(),
    );
    await waitFor(
      "karton-system started",
      () => /Manager karton\.system started/.test(system.output()),
      40_000,
    );
    expect(await stop(system)).toBe(0);
    expectNoSecret(system.output(), "karton-system's output");
  });

  it("without the CA the TLS handshake is refused with a clear error and no secret", async () => {
    const { code, output } = await runToExit(
      "src/system/main.ts",
      ["--config-file", iniFile([...tlsLines(), "socket_timeout = 3"])],
      {},
    );
    expect(code).toBe(1);
    expect(output).toContain(
      `Cannot connect to the Karton storage: Redis at rediss://127.0.0.1:${redis.port}/0 is not reachable: ` +
        "SELF_SIGNED_CERT_IN_CHAIN: self-signed certificate in certificate chain",
    );
    expectNoSecret(output, "the error output");
  });

  it("a wrong ACL password is refused with a clear error and neither password is shown", async () => {
    const wrong = `wrong-${randomBytes(8).toString("hex")}`;
    const { code, output } = await runToExit(
      "src/system/main.ts",
      ["--config-file", iniFile(tlsLines(wrong))],
      trustCa(),
    );
    expect(code).toBe(1);
    expect(output).toContain(`Redis at rediss://127.0.0.1:${redis.port}/0 rejected the credentials`);
    expect(output).not.toContain(wrong);
    expectNoSecret(output, "the error output");
  });

  it("`karton list` over TLS shows the consumers and no secret, also verbose and on errors", async () => {
    const ini = iniFile(tlsLines());
    const list = await runToExit("src/cli/karton.ts", ["-c", ini, "-v", "list"], trustCa());
    expect(list.code, list.output).toBe(0);
    expect(list.output).toContain("security.consumer");
    expectNoSecret(list.output, "`karton -v list` output");

    const json = await runToExit("src/cli/karton.ts", ["-c", ini, "list", "-o", "json"], trustCa());
    expect(json.code, json.output).toBe(0);
    expectNoSecret(json.output, "`karton list -o json` output");

    const refused = await runToExit(
      "src/cli/karton.ts",
      ["-c", iniFile(tlsLines("not-the-password")), "list"],
      trustCa(),
    );
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain("rejected the credentials");
    expect(refused.output).not.toContain("not-the-password");
    expectNoSecret(refused.output, "`karton list` error output");
  });

  it("the dashboard's pages, API, metrics and log contain no secret", async () => {
    const task = new Task({ type: "secure", origin: "security.test" }, { error: null });
    task.status = TaskState.Crashed;
    task.error = ["Traceback: something went wrong\n"];
    task.headers.receiver = "security.consumer";
    await admin.set(`karton.task:${task.uid}`, serializeTask(task));
    const dashboard = runNode(
      "src/dashboard/main.ts",
      ["--config-file", iniFile(tlsLines(), ["[logging]", "level = DEBUG"]), "--state-ttl", "0"],
      trustCa(),
    );
    const origin = await waitFor(
      "the dashboard to listen",
      () => /listening on (http:\/\/[^\s/]+)/.exec(dashboard.output())?.[1],
      40_000,
    );
    const paths = [
      "/",
      "/services",
      "/graph",
      "/login",
      "/queue/security.consumer",
      "/queue/security.consumer/crashed",
      `/task/${task.uid}`,
      `/analysis/${task.rootUid}`,
      "/metrics",
      "/varz",
      "/api/summary",
      "/api/queues",
      "/api/services",
      "/api/graph",
      `/api/task/${task.uid}`,
      "/static/dashboard.js",
    ];
    for (const path of paths) {
      const response = await fetch(`${origin}${path}`);
      const body = await response.text();
      expect(response.status, `${path}: ${body.slice(0, 300)}`).toBeLessThan(500);
      expectNoSecret(body, `dashboard ${path}`);
      expectNoSecret(JSON.stringify([...response.headers]), `dashboard ${path} headers`);
    }
    // A refused action says why without echoing anything secret.
    const refused = await fetch(`${origin}/task/${task.uid}/restart`, {
      method: "POST",
      headers: { authorization: "Bearer wrong-token" },
    });
    expect(refused.status).toBe(403);
    expectNoSecret(await refused.text(), "the refusal page");
    expect(await stop(dashboard)).toBe(0);
    expectNoSecret(dashboard.output(), "the dashboard's log");
  });
});

describe("S3 credentials", () => {
  const redisEnv = (db: number) => ({
    KARTON_REDIS_HOST: services.redis.host,
    KARTON_REDIS_PORT: String(services.redis.port),
    KARTON_REDIS_DB: String(db),
    KARTON_S3_ADDRESS: services.s3.address,
    KARTON_S3_BUCKET: bucket,
  });

  it("from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY when karton.ini has none (producer and karton-system)", async () => {
    const db = nextRedisDb();
    const env = { AWS_ACCESS_KEY_ID: services.s3.accessKey, AWS_SECRET_ACCESS_KEY: services.s3.secretKey };
    const config = KartonConfig.fromDict(
      {
        redis: { host: services.redis.host, port: services.redis.port, db },
        s3: { address: services.s3.address, bucket },
        logging: { level: "CRITICAL" },
      },
      { env },
    );
    expect(config.s3Options()).toMatchObject({ accessKey: services.s3.accessKey });
    const producer = new Producer({ config, identity: "security.producer" });
    const task = new Task(
      { type: "secure" },
      { payload: { file: Resource.fromBytes("env.bin", "from env") } },
    );
    await producer.sendTask(task);
    await producer.close();
    const key = (task.getResource("file") as unknown as { uid: string }).uid;
    const stream = await objects.getObjectStream(bucket, key);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe("from env");

    const system = runNode("src/system/main.ts", ["--log-level", "DEBUG"], { ...redisEnv(db), ...env });
    await waitFor(
      "karton-system started",
      () => /Manager karton\.system started/.test(system.output()),
      40_000,
    );
    expect(await stop(system)).toBe(0);
    expectNoSecret(system.output(), "karton-system's output");
  });

  it("from the AWS SDK credential chain with [s3] iam_auth (a shared credentials file)", async () => {
    const db = nextRedisDb();
    const credentials = join(work, "aws-credentials");
    writeFileSync(
      credentials,
      `[karton-test]\naws_access_key_id = ${services.s3.accessKey}\naws_secret_access_key = ${services.s3.secretKey}\n`,
    );
    const system = runNode("src/system/main.ts", ["--log-level", "DEBUG"], {
      ...redisEnv(db),
      KARTON_S3_IAM_AUTH: "true",
      AWS_SHARED_CREDENTIALS_FILE: credentials,
      AWS_CONFIG_FILE: join(work, "no-aws-config"),
      AWS_PROFILE: "karton-test",
      AWS_EC2_METADATA_DISABLED: "true",
    });
    await waitFor(
      "karton-system started",
      () => /Manager karton\.system started/.test(system.output()),
      40_000,
    );
    expect(await stop(system)).toBe(0);
    expectNoSecret(system.output(), "karton-system's output");
  });

  it("iam_auth with nothing in the chain and no keys: a clear error", async () => {
    const { code, output } = await runToExit("src/system/main.ts", [], {
      ...redisEnv(nextRedisDb()),
      KARTON_S3_IAM_AUTH: "true",
      AWS_SHARED_CREDENTIALS_FILE: join(work, "none"),
      AWS_CONFIG_FILE: join(work, "none"),
      AWS_EC2_METADATA_DISABLED: "true",
    });
    expect(code).toBe(1);
    expect(output).toContain(
      "[s3] iam_auth found no credentials and no access_key/secret_key are configured",
    );
    expectNoSecret(output, "the error output");
  });
});
