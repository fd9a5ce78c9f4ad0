// Log records published by a consumer, received by a LogConsumer, compared with the Python fixture;
// and the bind value compared with the shape Python writes.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseBind, serializeBind } from "../../src/bind/bind.js";
import { parse } from "../../src/json/index.js";
import type { JsonObject } from "../../src/json/values.js";
import { Consumer } from "../../src/service/consumer.js";
import { LogConsumer, type LogEvent } from "../../src/service/log-consumer.js";
import { Producer } from "../../src/service/producer.js";
import type { ProcessContext } from "../../src/service/task-context.js";
import { Task } from "../../src/task/task.js";
import { LIBRARY_VERSION } from "../../src/version.js";
import { readFixtureJson } from "../helpers/fixtures.js";
import { type ServiceTestEnv, serviceTestEnv, waitFor } from "../helpers/mini-router.js";
import { uniqueName } from "../helpers/services.js";

const fixtureBodies = (
  (readFixtureJson("logs/log-messages.json") as JsonObject).messages as unknown as { data_raw: string }[]
).map((m) => parse(m.data_raw) as JsonObject);

/** Fixture record keys with the extras removed (extras sit between `created` and `task_id`). */
function skeleton(keys: string[]): string[] {
  const start = keys.indexOf("created") + 1;
  const end = keys.indexOf("task_id");
  return [...keys.slice(0, start), ...keys.slice(end)];
}

class Collector extends LogConsumer {
  readonly events: LogEvent[] = [];
  processLog(event: LogEvent): void {
    this.events.push(event);
    if (event.message === "poison") throw new Error("processLog errors are printed and ignored");
  }
}

class Talker extends Consumer {
  static override filters = [{ type: "talk" }];
  static override description = "Talks a lot.\n\nUsed by the log compatibility test.";
  static override version = "9.9.9-test";
  process(task: Task, _context: ProcessContext): void {
    this.log.info("inside task", { extra: { sample_sha: "00000000", count: 3 } });
    this.log.exception("inside task: exception logged", new TypeError("caught"));
    if (task.headers.crash) throw new RangeError("crash requested");
  }
}

let env: ServiceTestEnv;
beforeEach(async () => {
  env = await serviceTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

describe("published logs", () => {
  it("have the keys of the Python records in the same order, on the right channels", async () => {
    const collectorId = uniqueName("logs");
    const collector = new Collector({
      config: env.config(),
      identity: collectorId,
      backend: env.backend(collectorId),
    });
    const talkerId = uniqueName("talker");
    (Collector as unknown as { loggerFilter: string }).loggerFilter = talkerId;
    const logLoop = collector.loop({ handleSignals: false });
    // Subscribed once a probe on the talker's channel reaches a receiver (the talker's identity is unique).
    const probe = JSON.stringify({ name: talkerId, message: "probe", levelname: "INFO" });
    await waitFor(
      "log subscription",
      async () => (await env.redis.publish(`karton.log.info.${talkerId}`, probe)) > 0,
    );
    const talker = new Talker({
      config: env.config(),
      identity: talkerId,
      backend: env.backend(talkerId, talkerId),
    });
    const loop = talker.loop({ handleSignals: false });
    talker.log.info("poison");
    const producer = new Producer({ config: env.config(), identity: "log.producer", backend: env.backend() });
    await waitFor("bind", async () => (await env.backend().getBind(talkerId)) !== null);
    await producer.sendTask(new Task({ type: "talk" }));
    await producer.sendTask(new Task({ type: "talk", crash: true }));
    await waitFor(
      "failure record",
      () => collector.events.some((e) => String(e.message).startsWith("Failed to process task")),
      20_000,
    );
    talker.stop();
    await loop;
    collector.stop();
    await logLoop;

    const events = collector.events;
    expect(events.every((e) => e.name === talkerId || String(e.name).startsWith(`${talkerId}.`))).toBe(true);
    const started = events.find((e) => e.message === `Service ${talkerId} started`) as LogEvent;
    const received = events.find((e) => String(e.message).startsWith("Received new task")) as LogEvent;
    const extra = events.find((e) => e.message === "inside task") as LogEvent;
    const caught = events.find((e) =>
      String(e.message).startsWith("inside task: exception logged"),
    ) as LogEvent;
    const failed = events.find((e) => String(e.message).startsWith("Failed to process task")) as LogEvent;

    const pyNoTask = fixtureBodies.find((b) => b.message === "Service fixture.logger started") as JsonObject;
    const pyReceived = fixtureBodies.find((b) =>
      String(b.message).startsWith("Received new task"),
    ) as JsonObject;
    const pyExtra = fixtureBodies.find((b) => "sample_sha" in b) as JsonObject;
    const pyCaught = fixtureBodies.find(
      (b) => String(b.message).startsWith("inside task: exception logged") && typeof b.task === "string",
    ) as JsonObject;
    const pyFailed = fixtureBodies.find((b) =>
      String(b.message).startsWith("Failed to process task"),
    ) as JsonObject;

    expect(Object.keys(started)).toEqual(Object.keys(pyNoTask));
    expect(Object.keys(received)).toEqual(Object.keys(pyReceived));
    expect(Object.keys(extra)).toEqual(Object.keys(pyExtra));
    expect(skeleton(Object.keys(caught))).toEqual(skeleton(Object.keys(pyCaught)));
    expect(Object.keys(failed)).toEqual(Object.keys(pyFailed));

    expect(started.task_id).toBe("(no task)");
    expect(started.levelname).toBe("INFO");
    expect(started.levelno).toBe(20);
    // The LogConsumer hands over the task decoded (spec §8.3); its uid matches task_id.
    const task = received.task as JsonObject;
    expect(typeof task).toBe("object");
    expect(String(task.uid).endsWith(`:${received.task_id}`)).toBe(true);
    expect(task.status).toBe("Spawned");
    expect(extra.sample_sha).toBe("00000000");
    expect(extra.count).toBe(3);
    expect((extra.task as JsonObject).status).toBe("Started");
    expect(failed.excType).toBe("RangeError");
    expect((failed.excTraceback as string[]).at(-1)).toBe("RangeError: crash requested\n");
    expect(failed.levelname).toBe("ERROR");
  });
});

describe("bind value", () => {
  it("has the shape of the Python binds (sorted keys, same types), with info and service_version", async () => {
    const identity = uniqueName("bind");
    const talker = new Talker({ config: env.config(), identity, backend: env.backend(identity, identity) });
    const loop = talker.loop({ handleSignals: false });
    await waitFor("bind", async () => (await env.backend().getBind(identity)) !== null);
    talker.stop();
    await loop;
    const raw = (await env.redis.hget("karton.binds", identity)) as string;
    const fixture = (readFixtureJson("binds/binds.json") as JsonObject).binds as unknown as {
      raw: string;
      parsed: JsonObject;
    }[];
    const value = parse(raw) as JsonObject;
    const pyValue = fixture[0]?.parsed as JsonObject;
    expect(Object.keys(value)).toEqual(Object.keys(pyValue));
    for (const key of Object.keys(pyValue)) {
      if (pyValue[key] !== null) expect(typeof value[key], key).toBe(typeof pyValue[key]);
    }
    expect(value).toEqual({
      filters: [{ type: "talk" }],
      info: "Talks a lot.\n\nUsed by the log compatibility test.",
      is_async: false,
      persistent: true,
      service_version: "9.9.9-test",
      version: LIBRARY_VERSION,
    });
    expect(raw).toBe(serializeBind(parseBind(identity, raw)));
    // Same separators as Python's json.dumps.
    expect(raw.startsWith('{"filters": [{"type": "talk"}], "info": ')).toBe(true);
  });
});
