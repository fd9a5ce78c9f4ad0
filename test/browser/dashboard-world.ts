/**
 * A populated Karton deployment with a running dashboard, for the dashboard's HTTP and browser tests:
 * real Redis (own db) and real S3 (own bucket), holding
 *
 * - Python data: the raw task documents of the 5.9.1 fixtures (`tasks/*.json`, later states
 *   overwriting earlier ones: the crasher fork of tasks/05 ends Crashed with its Python traceback),
 *   the raw binds of `binds/binds.json`, the `karton.outputs:*` sets and metrics hashes captured with
 *   them; plus binds registered by our backend for the fixtures' receivers;
 * - TypeScript data: a Producer sends a task with a resource, the real karton-ts Router routes it
 *   (recording outputs) to a running Karton that crashes and to a bind nobody consumes (pending);
 *   binds with wildcard and negated filters for the graph.
 *
 * The dashboard is served in-process on 127.0.0.1 with a free port (`createDashboardApp` +
 * `startServer`, what `karton-dashboard` runs), named `karton.dashboard?karton_version=…` in Redis.
 */
import type { KartonBackend } from "../../src/backend/backend.js";
import type { Bind } from "../../src/bind/bind.js";
import { createDashboardApp, type DashboardApp } from "../../src/dashboard/app.js";
import { dashboardClientName } from "../../src/dashboard/cli.js";
import { type RunningServer, startServer } from "../../src/dashboard/server.js";
import { type DashboardSettings, makeSettings } from "../../src/dashboard/settings.js";
import { compileFilters } from "../../src/filters/index.js";
import type { JsonObject } from "../../src/json/values.js";
import { Resource } from "../../src/resource/local-resource.js";
import { Karton } from "../../src/service/karton.js";
import { Logger } from "../../src/service/logging.js";
import { Producer } from "../../src/service/producer.js";
import { QuarantineReporter } from "../../src/system/quarantine.js";
import type { FilterCompiler } from "../../src/system/route.js";
import { Router } from "../../src/system/router.js";
import { TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";
import { findCapturedValues, listFixtures, readFixtureJson } from "../helpers/fixtures.js";
import { type ServiceTestEnv, serviceTestEnv, waitFor } from "../helpers/mini-router.js";

/** Uids of the Python 5.9.1 fixture data (tasks/01..07, 11). */
export const PY = {
  root: "7c3d496c-c021-4c70-af1e-cac867844440",
  crashedFork: "{7c3d496c-c021-4c70-af1e-cac867844440}:4b966dde-58da-4650-9eb6-6d66743e12b0",
  analyzerFork: "{7c3d496c-c021-4c70-af1e-cac867844440}:ac46b008-8e71-49d2-9fbe-54ac4e4e1192",
  reporterFork: "{7c3d496c-c021-4c70-af1e-cac867844440}:d60d0bbd-2aef-44fc-b5b8-65861617a884",
  childDeclared: "{31a2fedd-071e-4b21-b654-5769891c7b05}:31a2fedd-071e-4b21-b654-5769891c7b05",
  specialFork: "{6fd28cb5-4c1a-4943-bb78-c444229b00e0}:dd626818-797c-4476-",
  /** Resource uids of the crashed fork (objects not in our S3: the capture bucket). */
  sampleResource: "8ecb88cd-53ab-4a61-955d-f6ff6db39e9f",
  crashError: "ValueError: fixture crash while processing 'root task'",
} as const;

export const TS = {
  producer: "dash.ts-producer",
  crasher: "dash.ts-crasher",
  unpacker: "dash.ts-unpacker",
  glob: "dash.glob",
  notRaw: "dash.not-raw",
  resourceName: "evil <name>.zip",
  resourceBytes: Buffer.from("PK\u0003\u0004 dashboard test resource"),
  crashMessage: `ts crash: <b>bold</b> & 'quoted'`,
} as const;

const log = new Logger("dashboard-test");

/** A Karton that crashes on every task. */
class TsCrasher extends Karton {
  static override identity = TS.crasher;
  static override version = "2.0.0";
  static override description = "Crashes on purpose.\n\nUsed by the **dashboard** tests.";
  static override filters: JsonObject[] = [{ type: "ts-sample" }];
  override async process(): Promise<void> {
    throw new Error(TS.crashMessage);
  }
}

function bind(identity: string, filters: JsonObject[], extra: Partial<Bind> = {}): Bind {
  return {
    identity,
    filters,
    info: null,
    version: "0.1.0",
    persistent: true,
    serviceVersion: null,
    isAsync: false,
    ...extra,
  };
}

export interface DashboardWorld {
  env: ServiceTestEnv;
  /** The dashboard's own backend. */
  backend: KartonBackend;
  dashboard: DashboardApp;
  server: RunningServer;
  settings: DashboardSettings;
  /** `http://127.0.0.1:PORT<base>` + path. */
  url(path?: string): string;
  ts: { rootUid: string; crashedFork: string; pendingFork: string; resourceUid: string };
  close(): Promise<void>;
}

/** Writes the Python fixture data into the env's Redis db (raw SET/HSET/SADD, as Python left it). */
export async function seedPythonFixtures(env: ServiceTestEnv): Promise<void> {
  const redis = env.redis;
  for (const file of listFixtures("tasks", "json")) {
    for (const value of findCapturedValues(readFixtureJson(file))) {
      const key = value.entry.redis_key;
      if (typeof key === "string" && key.startsWith("karton.task:")) await redis.set(key, value.raw);
    }
  }
  for (const value of findCapturedValues(readFixtureJson("binds/binds.json"))) {
    const field = value.entry.hash_field;
    if (typeof field === "string") await redis.hset("karton.binds", field, value.raw);
  }
  const captured = readFixtureJson("redis/metrics-and-outputs.json") as {
    before_gc: {
      metrics: Record<string, Record<string, string>>;
      outputs: Record<string, { members: string[] }>;
    };
  };
  for (const [key, hash] of Object.entries(captured.before_gc.metrics)) {
    for (const [field, value] of Object.entries(hash)) await redis.hset(key, field, value);
  }
  for (const [key, { members }] of Object.entries(captured.before_gc.outputs)) {
    await redis.sadd(key, ...members);
    await redis.expire(key, 3600);
  }
}

export async function dashboardWorld(options: Partial<DashboardSettings> = {}): Promise<DashboardWorld> {
  const env = await serviceTestEnv({ router: false });
  try {
    await seedPythonFixtures(env);
    const ops = env.backend("dash.setup");
    // Binds for the receivers of the Python tasks (registered by our backend).
    await ops.registerBind(
      bind("fixture.crasher", [{ type: "sample", kind: "raw" }], {
        version: "5.9.1",
        info: "\n    Crashes on purpose (Python fixture).\n\n    Second paragraph with `code`.\n    ",
      }),
    );
    await ops.registerBind(bind("fixture.analyzer", [{ type: "sample", kind: "raw" }], { version: "5.9.1" }));
    await ops.registerBind(
      bind("fixture.reporter", [{ type: "sample", kind: "analyzed" }], { version: "5.9.1" }),
    );
    await ops.registerBind(bind("fixture.prio", [{ type: "prio-test" }], { version: "5.9.1" }));
    await ops.registerBind(
      bind(TS.unpacker, [{ type: "ts-sample", kind: "zip" }], { serviceVersion: "1.0.0" }),
    );
    await ops.registerBind(bind(TS.glob, [{ type: "sam*" }]));
    await ops.registerBind(bind(TS.notRaw, [{ type: "sample", kind: "!raw" }]));

    // TypeScript data: producer → real router → crashing Karton + pending queue.
    const crasher = new TsCrasher({
      config: env.config({ logging: { level: "CRITICAL" } }),
      backend: env.backend(TS.crasher, TS.crasher),
    });
    await crasher.backend.registerBind(crasher.bind);
    const producer = new Producer({
      config: env.config(),
      identity: TS.producer,
      backend: env.backend(TS.producer, TS.producer),
    });
    const task = new Task(
      { type: "ts-sample", kind: "zip" },
      {
        payload: { sample: Resource.fromBytes(TS.resourceName, TS.resourceBytes), note: "<i>not italic</i>" },
      },
    );
    await producer.sendTask(task);
    const routerBackend = env.backend("karton.system");
    const router = new Router(routerBackend as never, log, new QuarantineReporter(routerBackend), {
      identity: "karton.system",
      taskTracking: true,
      taskTrackingTtl: 3600,
      compileFilters: ((filters) => compileFilters(filters, { validate: false })) as FilterCompiler,
    });
    await router.routeBatch(1);
    await router.flush();
    const forks = new Map<string, string>();
    for await (const chunk of ops.scanTasks({ rootUid: task.rootUid })) {
      for (const { uid, raw } of chunk) {
        const receiver = /"receiver": "([^"]+)"/.exec(raw)?.[1];
        if (receiver) forks.set(receiver, uid);
      }
    }
    const crashedFork = forks.get(TS.crasher);
    const pendingFork = forks.get(TS.unpacker);
    if (!crashedFork || !pendingFork)
      throw new Error(`router did not fork the TS task: ${[...forks.keys()]}`);
    const loop = crasher.loop({ handleSignals: false });
    await waitFor(
      "the TS fork to crash",
      async () => (await ops.getTask(crashedFork))?.status === TaskState.Crashed,
    );
    crasher.stop();
    await loop;
    const sample = task.getResource("sample");

    const settings = makeSettings({ listen: { host: "127.0.0.1", port: 0 }, ...options });
    const backend = env.backend("karton.dashboard", dashboardClientName());
    const dashboard = createDashboardApp({ backend, settings });
    const server = await startServer(dashboard.fetch, settings.listen);
    return {
      env,
      backend,
      dashboard,
      server,
      settings,
      url: (path = "/") => `${server.origin}${settings.basePath}${path}`,
      ts: { rootUid: task.rootUid, crashedFork, pendingFork, resourceUid: sample.uid },
      async close() {
        await server.close();
        await env.cleanup();
      },
    };
  } catch (error) {
    await env.cleanup();
    throw error;
  }
}

/** One sample of the Prometheus text format. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (samples only; HELP/TYPE kept apart). */
export function parsePrometheus(text: string): { samples: MetricSample[]; types: Map<string, string> } {
  const samples: MetricSample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line.startsWith("# TYPE ")) {
      const [, , name, type] = line.split(" ");
      types.set(name as string, type as string);
      continue;
    }
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return { samples, types };
}
