/**
 * `PipelineHarness`: several services and the real karton-system router in one process, on the
 * embedded backend (no Redis, no S3), for tests of a whole pipeline.
 *
 * ```ts
 * const harness = new PipelineHarness();
 * harness.add(Classifier, Extractor, Reporter);
 * const root = await harness.send(new Task({ type: "sample", kind: "raw" }, { payload: { sample } }));
 * await harness.drain();
 * const analysis = await harness.analysis(root.rootUid);
 * expect(analysis.crashed).toEqual([]);
 * await harness.close();
 * ```
 *
 * Everything is real: `SystemService` (router with its routing plans and atomic batches, claim
 * recovery; the garbage collector is off so that finished trees stay readable), each consumer's
 * `loop()` (bind registration, claims, filter re-check, hooks, timeouts, status writes, crash
 * handling) and `Producer.sendTask`. Each service has its own backend handle on a store private to
 * the harness, as separate processes would on one Redis.
 */
import { MemoryBackend } from "../backend/memory/memory-backend.js";
import { MemoryStore } from "../backend/memory/memory-store.js";
import type { LogMessage, LogSubscription } from "../backend/types.js";
import { KartonConfig } from "../config/config.js";
import type { ConfigValue } from "../config/convert.js";
import { Consumer } from "../service/consumer.js";
import { Producer } from "../service/producer.js";
import { SystemService } from "../system/system-service.js";
import { parseTask } from "../task/document.js";
import type { Task } from "../task/task.js";
import { newUuid } from "../task/uid.js";
import { type Analysis, collectAnalysis, isFinalStatus } from "./analysis.js";
import type { ConsumerClass } from "./run-task.js";

/** A service to run: its class, or a function building it from the harness configuration. */
export type ServiceSource = ConsumerClass | ((config: KartonConfig) => Consumer);

export interface PipelineHarnessOptions {
  /**
   * Extra configuration, section → option → value, applied to every service (e.g.
   * `{ extractor: { max_depth: 2 } }`). `[karton] backend` and `[embedded] name` are set by the
   * harness.
   */
  config?: Record<string, Record<string, ConfigValue | undefined>>;
  /** `[logging] level` of every service (default `WARNING`). */
  logLevel?: string;
  /** Identity of the producer used by {@link PipelineHarness.send} (default `karton.test-producer`). */
  producerIdentity?: string;
}

export interface DrainOptions {
  /** Give up (and reject) after this many milliseconds (default 10 000). */
  timeoutMs?: number;
}

/** A task that is not Finished nor Crashed, as reported by a failed drain. */
export interface PendingTask {
  uid: string;
  status: string;
  receiver: string | null;
  headers: Record<string, unknown>;
}

/** `drain()` ran out of time; `pending` lists what was still in flight. */
export class DrainTimeoutError extends Error {
  readonly code = "DRAIN_TIMEOUT";
  constructor(
    readonly timeoutMs: number,
    readonly pending: PendingTask[],
  ) {
    const shown = pending
      .slice(0, 20)
      .map(
        (t) => `  - ${t.uid} ${t.status}${t.receiver ? ` → ${t.receiver}` : ""} ${JSON.stringify(t.headers)}`,
      );
    const more = pending.length > 20 ? [`  ... and ${pending.length - 20} more`] : [];
    super(
      `drain(): ${pending.length} task(s) still pending after ${timeoutMs} ms:\n${[...shown, ...more].join("\n")}`,
    );
    this.name = "DrainTimeoutError";
  }
}

interface Running {
  service: Consumer;
  loop: Promise<void>;
  error?: unknown;
}

const POLL_MS = 10;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class PipelineHarness {
  /** Name of the private embedded store (`[embedded] name`). */
  readonly storeName = `karton-ts-harness-${newUuid()}`;
  /** The harness's own handle on the store (reading trees, metrics, binds, queues). */
  readonly backend: MemoryBackend;
  /** Every log record published by the services, in order. */
  readonly logs: LogMessage[] = [];

  readonly #options: PipelineHarnessOptions;
  readonly #sources: ServiceSource[] = [];
  readonly #running: Running[] = [];
  readonly #abort = new AbortController();
  #system: SystemService | undefined;
  #systemRun: Promise<number> | undefined;
  #producer: Producer | undefined;
  #subscription: LogSubscription | undefined;
  #started: Promise<void> | undefined;
  #closed = false;

  constructor(options: PipelineHarnessOptions = {}) {
    this.#options = options;
    this.backend = new MemoryBackend({
      store: MemoryStore.shared(this.storeName),
      defaultBucket: this.#bucket(),
      createDefaultBucket: true,
    });
  }

  /** A fresh configuration as every service of the harness gets it. */
  config(): KartonConfig {
    const config = KartonConfig.fromDict(
      { logging: { level: this.#options.logLevel ?? "WARNING" }, system: { enable_gc: false } },
      { env: {} },
    );
    config.loadFromDict(this.#options.config ?? {});
    config.loadFromDict({ karton: { backend: "embedded" }, embedded: { name: this.storeName } });
    return config;
  }

  #bucket(): string {
    const bucket = this.#options.config?.s3?.bucket;
    return typeof bucket === "string" && bucket !== "" ? bucket : "karton";
  }

  /** The services (the consumers) running in the harness. */
  get services(): Consumer[] {
    return this.#running.map((r) => r.service);
  }

  /** Adds services (classes, or factories taking the harness configuration). Chainable. */
  add(...services: ServiceSource[]): this {
    if (this.#closed) throw new Error("PipelineHarness.add(): the harness is closed");
    this.#sources.push(...services);
    if (this.#started !== undefined) {
      const added = services.map((source) => this.#startService(source));
      this.#started = this.#started.then(() => this.#waitForBinds(added));
    }
    return this;
  }

  /**
   * Starts karton-system and the services added so far (later ones start when added), and resolves
   * once every service's bind is registered. Called by {@link send}; idempotent.
   */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("PipelineHarness.start(): the harness is closed"));
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    await this.backend.ping();
    this.#subscription = await this.backend.subscribeLogs({}, (message) => this.logs.push(message));
    this.#system = new SystemService({ config: this.config() });
    this.#systemRun = this.#system.serve({ handleSignals: false });
    const started = this.#sources.map((source) => this.#startService(source));
    await this.#waitForBinds(started);
  }

  #startService(source: ServiceSource): Running {
    const config = this.config();
    const service =
      typeof source === "function" && source.prototype instanceof Consumer
        ? new (source as ConsumerClass)({ config })
        : (source as (config: KartonConfig) => Consumer)(config);
    const running: Running = { service, loop: Promise.resolve() };
    running.loop = service
      .loop({ handleSignals: false, signal: this.#abort.signal })
      .catch((error: unknown) => {
        running.error = error;
      });
    this.#running.push(running);
    return running;
  }

  async #waitForBinds(services: Running[], timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const running of services) {
      for (;;) {
        this.#throwLoopErrors();
        if ((await this.backend.getBind(running.service.identity)) !== null) break;
        if (Date.now() > deadline) {
          throw new Error(`PipelineHarness: ${running.service.identity} did not register its bind in time`);
        }
        await sleep(POLL_MS);
      }
    }
  }

  #throwLoopErrors(): void {
    const failed = this.#running.find((r) => r.error !== undefined);
    if (failed) {
      const error = failed.error;
      throw new Error(
        `PipelineHarness: the loop of ${failed.service.identity} stopped: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }

  /**
   * Sends a task as a producer (identity `producerIdentity`), after starting the harness. Resolves
   * to the task as sent (its `rootUid` names the analysis).
   */
  async send(task: Task): Promise<Task> {
    await this.start();
    this.#producer ??= new Producer({
      config: this.config(),
      identity: this.#options.producerIdentity ?? "karton.test-producer",
    });
    await this.#producer.sendTask(task);
    return task;
  }

  /** Tasks of the store that are not Finished nor Crashed. */
  async pending(): Promise<PendingTask[]> {
    return (await this.#scan()).pending;
  }

  /** One pass over every task document: the pending ones, and the uids of all readable ones. */
  async #scan(): Promise<{ pending: PendingTask[]; uids: string[] }> {
    const pending: PendingTask[] = [];
    const uids: string[] = [];
    for await (const chunk of this.backend.scanTasks()) {
      for (const { uid, raw } of chunk) {
        let task: Task;
        try {
          task = parseTask(raw, { decodeResources: false });
        } catch {
          continue; // unreadable documents are quarantined by the router; they never complete
        }
        uids.push(uid);
        if (isFinalStatus(task.status)) continue;
        const receiver = task.headers.receiver;
        pending.push({
          uid,
          status: task.status,
          receiver: typeof receiver === "string" ? receiver : null,
          headers: { ...task.headers },
        });
      }
    }
    return { pending, uids };
  }

  /**
   * Resolves once no task is pending (every task document is Finished or Crashed: nothing waits to
   * be routed, queued or processed). Rejects with a {@link DrainTimeoutError} listing the pending
   * tasks after `timeoutMs`, or when a service's loop stopped on an error.
   */
  async drain(options: DrainOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    await this.start();
    // A scan lists the documents, then reads them: a task created in between (a fork, a child) is
    // missed by that scan while its parent already reads Finished. Statuses never leave Finished or
    // Crashed, so two consecutive all-final scans over the same tasks prove nothing is in flight.
    let settled: string | undefined;
    for (;;) {
      this.#throwLoopErrors();
      const { pending, uids } = await this.#scan();
      if (pending.length === 0) {
        const signature = uids.sort().join("\n");
        if (signature === settled) return;
        settled = signature;
        continue;
      }
      settled = undefined;
      if (Date.now() > deadline) throw new DrainTimeoutError(timeoutMs, pending);
      await sleep(POLL_MS);
    }
  }

  /** The task tree of an analysis (a root uid, or the uid of any of its tasks). */
  analysis(rootUid: string): Promise<Analysis> {
    return collectAnalysis(this.backend, rootUid);
  }

  /** Sends a task, drains, and returns its analysis. */
  async run(task: Task, options: DrainOptions = {}): Promise<Analysis> {
    const sent = await this.send(task);
    await this.drain(options);
    return this.analysis(sent.rootUid);
  }

  /** Stops everything (services finish the task in hand), closes the backends and drops the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#started?.catch(() => undefined);
    this.#abort.abort();
    this.#system?.stop();
    await Promise.all(this.#running.map((r) => r.loop));
    await this.#systemRun;
    await Promise.allSettled([
      ...this.#running.map((r) => r.service.close()),
      this.#system?.close(),
      this.#producer?.close(),
    ]);
    await this.#subscription?.close();
    const store = MemoryStore.shared(this.storeName);
    const objects = store.objects;
    await this.backend.close();
    MemoryStore.release(this.storeName);
    await objects.dispose();
  }
}
