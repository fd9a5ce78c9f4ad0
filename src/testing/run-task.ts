/**
 * `runTask`: Python's `KartonTestCase.run_task` (wire-protocol spec §13) for karton-ts services.
 *
 * ```ts
 * import { runTask, assertTasksEqual } from "karton-ts/testing";
 *
 * const outputs = await runTask(Reverser, new Task({ type: "reverse-task" }, { payload: { file } }));
 * await assertTasksEqual(outputs, [new Task({ origin: "karton.reverser", type: "reverse-result" }, { payload: { file: reversed } })]);
 * ```
 *
 * No Redis, no S3: the service runs on a {@link TestBackend} (embedded store of its own + in-memory
 * objects, default bucket `karton.test`).
 */
import { KartonConfig } from "../config/config.js";
import { isJsonObject } from "../json/values.js";
import { LocalResource } from "../resource/local-resource.js";
import { RemoteResource } from "../resource/remote-resource.js";
import { ResourceBase } from "../resource/resource-base.js";
import type { Consumer } from "../service/consumer.js";
import type { ServiceOptions } from "../service/service-base.js";
import type { TaskContext } from "../service/task-context.js";
import { TaskState } from "../task/enums.js";
import { type Payload, type PayloadValue, Task } from "../task/task.js";
import { makeUid } from "../task/uid.js";
import { createTestBackend, TestBackend } from "./test-backend.js";

/** A concrete consumer class (a `Karton` or a plain `Consumer`). */
export type ConsumerClass<C extends Consumer = Consumer> = new (options?: ServiceOptions) => C;

/** Configuration of a service under test: a `KartonConfig`, or sections → options. */
export type TestConfig = KartonConfig | Record<string, Record<string, string | number | boolean | undefined>>;

export interface TestKartonOptions {
  /**
   * Configuration (default: empty — no files, no `KARTON_*` environment, like Python's test case).
   * `[redis]`/`[s3]` are never used: the backend is a {@link TestBackend}.
   */
  config?: TestConfig;
  /** Identity instead of the class's `static identity`. */
  identity?: string;
  /** The backend to use (default: a fresh {@link TestBackend}). */
  backend?: TestBackend;
}

export interface RunTaskOptions extends TestKartonOptions {
  /** The `signal` passed to `process()` (default: one that never aborts). */
  signal?: AbortSignal;
}

/** A consumer built by {@link testKarton}: its backend is a {@link TestBackend}. */
export type TestKarton<C extends Consumer = Consumer> = C & { readonly backend: TestBackend };

function toConfig(config: TestConfig | undefined): KartonConfig {
  if (config instanceof KartonConfig) return config;
  return KartonConfig.fromDict(config ?? {}, { env: {} });
}

/**
 * Builds a service for {@link runTask} on a {@link TestBackend}. Use it instead of passing the class
 * to `runTask` when the test needs the instance (to inspect its state after a task, or to run
 * several tasks on one instance).
 */
export function testKarton<C extends Consumer>(
  cls: ConsumerClass<C>,
  options: TestKartonOptions = {},
): TestKarton<C> {
  const backend = options.backend ?? createTestBackend();
  const karton = new cls({
    config: toConfig(options.config),
    backend,
    ...(options.identity !== undefined && { identity: options.identity }),
  });
  return karton as TestKarton<C>;
}

/** Uploads local resources, anywhere in a payload, and returns a copy with remote resources. */
async function uploadResources(
  value: PayloadValue,
  backend: TestBackend,
  where: string,
): Promise<PayloadValue> {
  if (value instanceof LocalResource) {
    const bucket = backend.defaultBucket as string;
    await value.prepare();
    await backend.objects.putObject(bucket, value.uid, await value.content());
    return new RemoteResource(
      {
        uid: value.uid,
        name: value.name,
        bucket,
        size: value.size,
        sha256: value.sha256,
        metadata: { ...value.metadata },
        flags: [...value.flags],
      },
      backend.objects,
    );
  }
  if (value instanceof ResourceBase) {
    throw new TypeError(
      `runTask: ${where} is a remote resource; input tasks must carry local resources ` +
        "(Resource.fromBytes/fromFile/...), which runTask uploads to the in-memory store",
    );
  }
  if (Array.isArray(value)) {
    const out: PayloadValue[] = [];
    for (let i = 0; i < value.length; i++) {
      out.push(await uploadResources(value[i] as PayloadValue, backend, `${where}[${i}]`));
    }
    return out;
  }
  if (isJsonObject(value)) {
    const out: Record<string, PayloadValue> = {};
    for (const [key, item] of Object.entries(value as Record<string, PayloadValue>)) {
      out[key] = await uploadResources(item, backend, `${where}.${key}`);
    }
    return out;
  }
  return value;
}

async function uploadBag(bag: Payload, backend: TestBackend, name: string): Promise<Payload> {
  const out: Payload = {};
  for (const [key, value] of Object.entries(bag))
    out[key] = await uploadResources(value, backend, `${name}.${key}`);
  return out;
}

/**
 * The task `process()` receives: a fork of `task` (new `{root}:uuid` uid, `orig_uid` = the input's
 * uid, same tree links, headers and priority), status Started, header `receiver` = the identity,
 * local resources uploaded and replaced by remote ones (same uid, name, metadata, size, hash,
 * flags). The input task is not modified.
 */
export async function prepareInputTask(task: Task, identity: string, backend: TestBackend): Promise<Task> {
  const fork = new Task(
    { ...task.headers, receiver: identity },
    {
      uid: makeUid(task.rootUid),
      rootUid: task.rootUid,
      parentUid: task.parentUid,
      origUid: task.uid,
      status: TaskState.Started,
      priority: task.priority,
      headersPersistent: task.headersPersistent,
      payload: await uploadBag(task.payload, backend, "payload"),
      payloadPersistent: await uploadBag(task.payloadPersistent, backend, "payload_persistent"),
    },
  );
  return fork;
}

interface WithTaskContext {
  runWithTask<T>(context: TaskContext, fn: () => T): T;
}

/**
 * Runs `task` through a service the way Python's `KartonTestCase.run_task` does, and returns the
 * tasks it sent, in order.
 *
 * 1. The recorded outputs are cleared.
 * 2. The input is forked (see {@link prepareInputTask}); local resources are uploaded to the
 *    in-memory store (bucket `karton.test`); a remote resource in the input is an error.
 * 3. The fork becomes the current task and `process(task, { signal })` is called **directly**: no
 *    filter check, no hooks, no timeout, no status writes, no crash handling — an error thrown by
 *    `process()` rejects `runTask`.
 * 4. Every task the service sent went through the real `sendTask` (child rules: parent/root uid,
 *    inherited persistent payload and headers, priority; `origin` header; default bucket; resource
 *    upload to the in-memory store). They are returned as they were sent: documents read back
 *    (status `Declared`), resources as remote resources bound to the in-memory store, so their
 *    content can be read.
 *
 * `karton` is a service class (built with `options`, closed afterwards) or an instance made by
 * {@link testKarton}.
 */
export async function runTask(
  karton: ConsumerClass | Consumer,
  task: Task,
  options: RunTaskOptions = {},
): Promise<Task[]> {
  const owned = typeof karton === "function";
  const service: Consumer = owned ? testKarton(karton, options) : karton;
  const backend = service.backend;
  if (!(backend instanceof TestBackend)) {
    throw new TypeError(
      "runTask(instance): the service must be built by testKarton(MyKarton) (or with { backend: createTestBackend() }) " +
        "so that its tasks stay in memory",
    );
  }
  if (!(task instanceof Task)) throw new TypeError("runTask: the input must be a Task");
  try {
    backend.clearSent();
    const input = await prepareInputTask(task, service.identity, backend);
    const signal = options.signal ?? new AbortController().signal;
    await (service as unknown as WithTaskContext).runWithTask({ task: input, signal }, () =>
      service.process(input, { signal }),
    );
    return backend.takeSent();
  } finally {
    if (owned) await service.close();
  }
}
