/**
 * The `karton-dashboard` command as a child process (`node --import tsx src/dashboard/main.ts`)
 * against real Redis + S3: options and configuration, its client name, no secret in its output,
 * clean stop on SIGTERM, usage errors.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nextRedisDb, testServices, uniqueName } from "../helpers/services.js";

const services = testServices();
const TOKEN = "cli-token-7d1f0c-do-not-print";

interface Run {
  proc: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

function run(args: string[]): Run {
  const proc = spawn(process.execPath, ["--import", "tsx", "src/dashboard/main.ts", ...args], {
    cwd: process.cwd(),
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  proc.stdout?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  proc.stderr?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  const exit = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  return { proc, output: () => output, exit };
}

async function waitForOrigin(r: Run, timeoutMs = 30_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const m = /listening on (http:\/\/[^\s/]+)/.exec(r.output());
    if (m) return m[1] as string;
    if (Date.now() > end || r.proc.exitCode !== null)
      throw new Error(`dashboard did not start:\n${r.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("karton-dashboard command", () => {
  const dir = mkdtempSync(join(tmpdir(), "karton-dash-cli-"));
  const db = nextRedisDb();
  const ini = join(dir, "karton.ini");
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis({ host: services.redis.host, port: services.redis.port, db, lazyConnect: true });
    await redis.connect();
    await redis.flushdb();
    await redis.hset(
      "karton.binds",
      "cli.consumer",
      '{"filters": [{"type": "sample"}], "info": null, "is_async": false, "persistent": true, "service_version": null, "version": "5.9.1"}',
    );
    writeFileSync(
      ini,
      [
        "[redis]",
        `host = ${services.redis.host}`,
        `port = ${services.redis.port}`,
        `db = ${db}`,
        "[s3]",
        `address = ${services.s3.address}`,
        `access_key = ${services.s3.accessKey}`,
        `secret_key = ${services.s3.secretKey}`,
        `bucket = ${uniqueName("cli")}`,
        "[dashboard]",
        "listen = 127.0.0.1:0",
        `token = ${TOKEN}`,
        'xrefs = {"MWDB": "https://mwdb.example/{root_uid}"}',
        "",
      ].join("\n"),
    );
  });

  afterAll(async () => {
    await redis?.flushdb();
    redis?.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves the dashboard, names its connection, prints no secret and stops on SIGTERM", async () => {
    const r = run(["--config-file", ini, "--log-level", "DEBUG", "--base-path", "/karton"]);
    try {
      const origin = await waitForOrigin(r);
      const page = await fetch(`${origin}/karton/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("cli.consumer");
      expect((await fetch(`${origin}/karton/metrics`)).status).toBe(200);
      const clients = (await redis.client("LIST")) as string;
      expect(clients).toMatch(/name=karton\.dashboard\?karton_version=[^ &]+&service_version=[^ ]+ /);
      const services = (await (await fetch(`${origin}/karton/api/services`)).json()) as {
        identity: string;
      }[];
      expect(services.map((s) => s.identity)).toContain("karton.dashboard");
      expect(r.output()).toContain("actions need the token");
      expect(r.output()).toContain('"token":"***"');
    } finally {
      r.proc.kill("SIGTERM");
    }
    expect(await r.exit).toBe(0);
    expect(r.output()).toContain("SIGTERM received, stopping");
    expect(r.output()).not.toContain(TOKEN);
    expect(r.output()).not.toContain(services.s3.secretKey);
  });

  it("--listen overrides [dashboard] listen", async () => {
    const r = run(["--config-file", ini, "--listen", "127.0.0.1:0"]);
    try {
      const origin = await waitForOrigin(r);
      expect(origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${origin}/`)).status).toBe(200);
    } finally {
      r.proc.kill("SIGINT");
    }
    expect(await r.exit).toBe(0);
  });

  it("exits 2 on bad options and configuration, naming the problem", async () => {
    const bad = join(dir, "bad.ini");
    writeFileSync(
      bad,
      `[redis]\nhost = 127.0.0.1\n[s3]\naddress = http://127.0.0.1:1\n[dashboard]\nlisten = not-an-address\n`,
    );
    let r = run(["--config-file", bad]);
    expect(await r.exit).toBe(2);
    expect(r.output()).toContain("listen");
    r = run(["--config-file", join(dir, "missing.ini")]);
    expect(await r.exit).toBe(2);
    r = run(["--config-file", ini, "--state-ttl", "forever"]);
    expect(await r.exit).toBe(2);
    expect(r.output()).toContain("--state-ttl");
  });
});
