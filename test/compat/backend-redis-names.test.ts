/**
 * Redis naming and connection settings of the Redis backend against the Python 5.9.1 fixtures and
 * the spec (no server needed): client names, CLIENT LIST parsing, key names, `[redis]` → ioredis
 * options (URL precedence, TLS, timeouts), log body decoding.
 */
import { describe, expect, it } from "vitest";
import { decodeLogBody } from "../../src/backend/codec.js";
import {
  clientName,
  ioredisOptions,
  parseClientList,
  quotePlus,
  resolveRedisTarget,
} from "../../src/backend/redis/connection.js";
import * as keys from "../../src/backend/redis/keys.js";
import { SCRIPTS, scriptId } from "../../src/backend/redis/scripts.js";
import { KartonMetric } from "../../src/backend/types.js";
import { LIBRARY_VERSION } from "../../src/version.js";
import { readFixtureText } from "../helpers/fixtures.js";

interface ClientFixture {
  clients: { name: string; raw_line: string }[];
}
const clientFixture = JSON.parse(readFixtureText("redis/client-list.json")) as ClientFixture;

describe("client names (spec §1.3)", () => {
  it("is the bare identity for consumers and producers, nothing for anonymous producers", () => {
    expect(clientName("fixture.producer")).toBe("fixture.producer");
    expect(clientName("")).toBeUndefined();
    expect(() => clientName("bad identity")).toThrow(/whitespace/);
    expect(() => clientName("bad?identity")).toThrow();
  });

  it("has Python's extended form, parameters in Python's order and encoding", () => {
    const system = clientName("karton.system", { extended: true, serviceVersion: "5.9.1" })!;
    const logConsumer = clientName("fixture.log-consumer", { extended: true, serviceVersion: null })!;
    const asPython = (name: string) =>
      name.replace(`karton_version=${LIBRARY_VERSION}`, "karton_version=5.9.1");
    const names = clientFixture.clients.map((c) => c.name);
    expect(names).toContain(asPython(system));
    expect(names).toContain(asPython(logConsumer));
    expect(quotePlus("a b/c~d*é")).toBe("a+b%2Fc~d%2A%C3%A9");
  });

  it("parses CLIENT LIST like Python: name cut at '?', parameters decoded", () => {
    const parsed = parseClientList(`${clientFixture.clients.map((c) => c.raw_line).join("\n")}\n`);
    expect(parsed.map((c) => c.identity).sort()).toEqual([
      "fixture.log-consumer",
      "fixture.logger",
      "fixture.producer",
      "karton.system",
    ]);
    const system = parsed.find((c) => c.identity === "karton.system")!;
    expect(system.params).toEqual({ karton_version: "5.9.1", service_version: "5.9.1" });
    expect(system.fields.flags).toBe("b");
    const unnamed = parseClientList(
      "id=1 addr=127.0.0.1:1 name= db=0 cmd=ping\nid=2 name=x?service_version=a+b%2F db=0",
    );
    expect(unnamed[0]).toMatchObject({ name: "", identity: "", params: {} });
    expect(unnamed[1]!.params).toEqual({ service_version: "a b/" });
  });
});

describe("key names (spec §1.1)", () => {
  it("match the Python keyspace", () => {
    expect(keys.taskKey("{r}:u")).toBe("karton.task:{r}:u");
    expect(keys.UNROUTED_TASKS_KEY).toBe("karton.tasks");
    expect(keys.LEGACY_OPERATIONS_KEY).toBe("karton.operations");
    expect(keys.BINDS_KEY).toBe("karton.binds");
    expect(keys.queueKey("high", "x.y")).toBe("karton.queue.high:x.y");
    expect(keys.consumerQueueKeys("c")).toEqual([
      "c",
      "karton.queue.high:c",
      "karton.queue.normal:c",
      "karton.queue.low:c",
    ]);
    expect(keys.ALL_METRICS.map(keys.metricsKey)).toEqual([
      "karton.metrics.produced",
      "karton.metrics.assigned",
      "karton.metrics.consumed",
      "karton.metrics.crashed",
      "karton.metrics.garbage-collected",
    ]);
    expect(keys.metricsKey(KartonMetric.GarbageCollected)).toBe("karton.metrics.garbage-collected");
    expect(keys.outputsKey("fixture.producer")).toBe("karton.outputs:fixture.producer");
    expect(keys.logChannel("WARNING", "fixture.logger")).toBe("karton.log.warning.fixture.logger");
    expect(keys.logPattern()).toBe("karton.log.*.*");
    expect(keys.logPattern({ level: "ERROR", identity: "karton.*" })).toBe("karton.log.error.karton.*");
    expect(keys.taskTreePattern("aaaa-1")).toBe("karton.task:{aaaa-1}:*");
    expect(keys.LEGACY_TASK_PATTERN).toBe("karton.task:[^{]*");
  });

  it("keeps every extension key under karton.ts., outside every Python pattern", () => {
    const ext = [
      keys.claimsKey("i"),
      keys.routingKey("i"),
      keys.aliveKey("i"),
      keys.INSTANCES_KEY,
      keys.ATTEMPTS_KEY,
      keys.QUARANTINE_KEY,
    ];
    for (const key of ext) {
      expect(key.startsWith("karton.ts.")).toBe(true);
      expect(key.startsWith("karton.task:")).toBe(false);
      expect(key.startsWith("karton.queue.")).toBe(false);
      expect(key.startsWith("karton.outputs:")).toBe(false);
    }
  });
});

describe("[redis] options → connection (spec §1.2, §10.2)", () => {
  const base = { port: 6379, db: 0, ssl: false, socketTimeout: 30 };

  it("uses host/port/db/ssl and treats empty credentials as unset", () => {
    const t = resolveRedisTarget({
      ...base,
      host: "redis.local",
      port: 7000,
      db: 4,
      username: "",
      password: "",
    });
    expect(t).toMatchObject({ host: "redis.local", port: 7000, db: 4, tls: false, commandTimeoutMs: 30_000 });
    expect(t.username).toBeUndefined();
    expect(t.password).toBeUndefined();
    expect(t.display).toBe("redis://redis.local:7000/4");
    expect(resolveRedisTarget({ ...base, host: "h", ssl: true }).tls).toBe(true);
  });

  it("lets the URL win over host/port/db/ssl, and URL credentials over the options", () => {
    const t = resolveRedisTarget({
      ...base,
      host: "ignored",
      port: 1,
      db: 9,
      ssl: true,
      url: "redis://user:p%40ss@cache:6380/5",
      username: "opt-user",
      password: "opt-pw",
    });
    expect(t).toMatchObject({
      host: "cache",
      port: 6380,
      db: 5,
      tls: false,
      username: "user",
      password: "p@ss",
    });
    expect(t.display).toBe("redis://cache:6380/5");
    expect(t.display).not.toContain("p@ss");
    const fromOptions = resolveRedisTarget({ ...base, url: "redis://cache", password: "opt-pw" });
    expect(fromOptions).toMatchObject({ port: 6379, db: 0, password: "opt-pw" });
    expect(resolveRedisTarget({ ...base, url: "redis://cache?db=3" }).db).toBe(3);
  });

  it("maps rediss:// and ssl = true to ioredis tls, unix:// to a socket path", () => {
    const tls = resolveRedisTarget({ ...base, url: "rediss://secure:6390/1" });
    expect(tls.tls).toBe(true);
    expect(ioredisOptions(tls, { role: "main" }).tls).toEqual({ servername: "secure" });
    expect(ioredisOptions(resolveRedisTarget({ ...base, host: "h" }), { role: "main" }).tls).toBeUndefined();
    const unix = resolveRedisTarget({ ...base, url: "unix:///run/redis/redis.sock?db=2" });
    expect(unix).toMatchObject({ path: "/run/redis/redis.sock", db: 2 });
    const options = ioredisOptions(unix, { role: "main" });
    expect(options.path).toBe("/run/redis/redis.sock");
    expect(options.host).toBeUndefined();
    expect(() => resolveRedisTarget({ ...base, url: "http://x" })).toThrow(/redis:\/\//);
  });

  it("applies socket_timeout to commands but never to blocking commands, names only when asked", () => {
    const t = resolveRedisTarget({ ...base, host: "h", password: "pw", username: "u" });
    const main = ioredisOptions(t, { role: "main", name: "karton.x" });
    expect(main).toMatchObject({
      commandTimeout: 30_000,
      connectionName: "karton.x",
      password: "pw",
      username: "u",
    });
    expect(main.autoResendUnfulfilledCommands).toBe(false);
    const blocking = ioredisOptions(t, { role: "blocking" });
    expect(blocking.commandTimeout).toBeUndefined();
    expect(blocking.connectionName).toBeUndefined();
    const noTimeout = ioredisOptions(resolveRedisTarget({ ...base, host: "h", socketTimeout: 0 }), {
      role: "main",
    });
    expect(noTimeout.commandTimeout).toBeUndefined();
    expect(noTimeout.maxRetriesPerRequest).toBe(20);
    const fallback = ioredisOptions(t, { role: "main", withoutCredentials: true });
    expect(fallback.password).toBeUndefined();
    expect(fallback.username).toBeUndefined();
  });
});

describe("log bodies (spec §8.3)", () => {
  it("decodes every captured record, with the task field decoded too", () => {
    const fixture = JSON.parse(readFixtureText("logs/log-messages.json")) as {
      messages: { channel: string; data_raw: string }[];
    };
    let withTask = 0;
    for (const message of fixture.messages) {
      const body = decodeLogBody(message.data_raw);
      expect(body).not.toBeNull();
      if (body!.task !== undefined) {
        withTask++;
        expect(typeof body!.task).toBe("object");
        expect(typeof (body!.task as Record<string, unknown>).uid).toBe("string");
      }
    }
    expect(withTask).toBeGreaterThan(0);
    expect(decodeLogBody("not json")).toBeNull();
    expect(decodeLogBody("[1]")).toBeNull();
    expect(decodeLogBody('{"task": "{broken"}')).toEqual({ task: "{broken" });
  });
});

describe("Lua scripts", () => {
  it("have unique BullMQ-style names and non-empty sources", () => {
    const ids = Object.values(SCRIPTS).map(scriptId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain("claimTask-5");
    expect(ids).toContain("applyRoutePlan-3");
    for (const script of Object.values(SCRIPTS)) expect(script.lua.trim().length).toBeGreaterThan(20);
  });
});
