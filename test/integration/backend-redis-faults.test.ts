/**
 * The Redis backend under faults, each on a private redis-server started by the test:
 * a restart under connected clients, and the authentication fall-back of spec §1.2.
 */
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { RedisAuthError } from "../../src/backend/redis/connection.js";
import { RedisBackend } from "../../src/backend/redis/redis-backend.js";
import { TaskState } from "../../src/task/enums.js";
import { noObjects } from "../backend/no-objects.js";
import { type PrivateRedis, privateRedis } from "../backend/redis-server.js";
import { newTask, planFor } from "../backend/suite.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
});

async function server(args: string[] = []): Promise<PrivateRedis> {
  const s = await privateRedis(args);
  cleanups.push(() => s.destroy());
  return s;
}

function backend(options: ConstructorParameters<typeof RedisBackend>[0]): RedisBackend {
  const b = new RedisBackend(options);
  cleanups.push(() => b.close());
  return b;
}

function admin(port: number, password?: string): Redis {
  const r = new Redis({ host: "127.0.0.1", port, lazyConnect: true, ...(password ? { password } : {}) });
  r.on("error", () => {});
  cleanups.push(async () => r.disconnect());
  return r;
}

async function clientNames(port: number, password?: string): Promise<string[]> {
  const text = (await admin(port, password).call("CLIENT", "LIST")) as string;
  return [...text.matchAll(/ name=(\S*)/g)].map((m) => m[1]!);
}

const base = (port: number) => ({ host: "127.0.0.1", port, db: 3, ssl: false, socketTimeout: 30 });

describe("Redis restart under a connected backend", () => {
  it("reconnects, renames its connection, and serves commands issued while Redis was down", async () => {
    const redis = await server();
    const events: string[] = [];
    const b = backend({
      redis: base(redis.port),
      objects: noObjects,
      clientName: "fault.consumer",
      onEvent: (level, message) => events.push(`${level}: ${message}`),
    });
    await b.ping();
    await b.heartbeat("consumer", "fault.consumer", 30);
    expect(await clientNames(redis.port)).toContain("fault.consumer");

    // A blocking claim in flight while the server goes away.
    const pendingClaim = b.claimTask("fault.consumer", 3).then(
      (uid) => ({ uid }),
      (err: Error) => ({ err }),
    );
    await new Promise((r) => setTimeout(r, 200));
    await redis.stop();
    const task = newTask();
    // Issued while Redis is down: waits in the offline queue.
    const declared = b.declareTask(task);
    await new Promise((r) => setTimeout(r, 500));
    await redis.start();
    await declared;
    await pendingClaim; // settles one way or the other, never hangs

    expect((await b.getTask(task.uid))!.status).toBe(TaskState.Declared);
    const deadline = Date.now() + 5000;
    while (!(await clientNames(redis.port)).includes("fault.consumer")) {
      if (Date.now() > deadline) throw new Error("client name not back after reconnect");
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await clientNames(redis.port)).filter((n) => n === "fault.consumer")).toHaveLength(1);
    expect(events.some((e) => /lost.*reconnecting in \d+ ms/.test(e))).toBe(true);
    expect(events.some((e) => /re-established/.test(e))).toBe(true);

    // Claims work again after the restart (scripts re-loaded after NOSCRIPT).
    await b.enqueueUnrouted(task, "p");
    expect(await b.takeUnrouted(10, 1)).toEqual([task.uid]);
    await b.applyRoutePlan(planFor([task], ["fault.consumer"]));
    await b.heartbeat("consumer", "fault.consumer", 30);
    expect(await b.claimTask("fault.consumer", 1)).not.toBeNull();
  });

  it("a command fails with a clear error naming host:port/db when Redis stays down", async () => {
    const redis = await server();
    const b = backend({ redis: { ...base(redis.port), socketTimeout: 1 }, objects: noObjects });
    await b.ping();
    await redis.stop();
    const err = await b.getTask("x").then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain(`127.0.0.1:${redis.port}/3`);
    expect(err!.message).toMatch(/GET karton\.task:x failed/);
  });

  it("ping rejects with a clear error when nothing listens", async () => {
    const redis = await server();
    await redis.stop();
    const b = backend({ redis: { ...base(redis.port), socketTimeout: 1 }, objects: noObjects });
    await expect(b.ping()).rejects.toThrow(new RegExp(`127\\.0\\.0\\.1:${redis.port}/3`));
  });
});

describe("lost claim replies", () => {
  it("a uid in our claim list that we never received is taken after a second look", async () => {
    const redis = await server();
    const events: string[] = [];
    const b = backend({ redis: base(redis.port), objects: noObjects, onEvent: (_l, m) => events.push(m) });
    await b.ping();
    await b.heartbeat("consumer", "fault.orphan", 30);
    expect(await b.claimTask("fault.orphan", 0)).toBeNull();
    // As if the server moved a uid for us and the reply was lost with the connection.
    const r = admin(redis.port);
    await r.select(3);
    await r.rpush(`karton.ts.claims:${b.instanceId}`, "{root}:lost");
    await r.client("KILL", "TYPE", "normal", "SKIPME", "yes"); // drops our connections: check due
    await new Promise((resolve) => setTimeout(resolve, 500)); // reconnected
    expect(await b.claimTask("fault.orphan", 0)).toBeNull(); // first look: only a suspect
    await new Promise((resolve) => setTimeout(resolve, 3200));
    expect(await b.claimTask("fault.orphan", 0)).toBe("{root}:lost");
    expect(events.some((m) => m.includes("{root}:lost") && m.includes("lost reply"))).toBe(true);
  });
});

describe("authentication fall-back (spec §1.2)", () => {
  it("connects without credentials when the server has no password, and says so", async () => {
    const redis = await server();
    const events: string[] = [];
    const b = backend({
      redis: { ...base(redis.port), password: "s3cret-pw" },
      objects: noObjects,
      clientName: "fault.auth",
      onEvent: (level, message) => events.push(`${level}: ${message}`),
    });
    await b.ping();
    await b.declareTask(newTask());
    expect(events.some((e) => e.startsWith("warning:") && /without username\/password/.test(e))).toBe(true);
    expect(events.join("\n")).not.toContain("s3cret-pw");
    expect(await clientNames(redis.port)).toContain("fault.auth");
  });

  it("uses the password when the server requires it, and fails clearly with a wrong one", async () => {
    const redis = await server(["--requirepass", "right-pw"]);
    const good = backend({
      redis: { ...base(redis.port), password: "right-pw" },
      objects: noObjects,
      clientName: "fault.good",
    });
    await good.ping();
    await good.declareTask(newTask());
    expect(await clientNames(redis.port, "right-pw")).toContain("fault.good");

    const bad = backend({ redis: { ...base(redis.port), password: "wrong-pw" }, objects: noObjects });
    const err = await bad.ping().then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(RedisAuthError);
    expect(err!.message).toContain(`127.0.0.1:${redis.port}/3`);
    expect(err!.message).not.toContain("wrong-pw");

    const none = backend({ redis: { ...base(redis.port), socketTimeout: 2 }, objects: noObjects });
    await expect(none.ping()).rejects.toThrow(/NOAUTH|authentication/i);
  });

  it("credentials inside the URL win over the password option", async () => {
    const redis = await server(["--requirepass", "url-pw"]);
    const b = backend({
      redis: {
        url: `redis://:url-pw@127.0.0.1:${redis.port}/2`,
        port: 6379,
        db: 0,
        ssl: false,
        socketTimeout: 30,
        password: "option-pw",
      },
      objects: noObjects,
    });
    await b.ping();
    expect(b.target.db).toBe(2);
    await b.declareTask(newTask());
  });
});
