/**
 * The backend of {@link runTask}: the embedded backend on a private in-process store (never shared
 * with anything else in the process) and an {@link InMemoryObjectStore}, with default bucket
 * `karton.test`, like the mock backend of Python's `KartonTestCase`. It records every task queued
 * for routing (what `sendTask` produced) and swallows log records.
 */
import { MemoryBackend } from "../backend/memory/memory-backend.js";
import { MemoryStore } from "../backend/memory/memory-store.js";
import { parseTask, serializeTask } from "../task/document.js";
import type { Task } from "../task/task.js";
import { newUuid } from "../task/uid.js";
import { InMemoryObjectStore } from "./memory-object-store.js";

/** Default bucket of the test backend (Python's `KartonTestCase` uses the same name). */
export const TEST_BUCKET = "karton.test";

export interface TestBackendOptions {
  /** Default bucket (default `karton.test`). */
  bucket?: string;
  /** Object store (default: a fresh {@link InMemoryObjectStore}). */
  objects?: InMemoryObjectStore;
}

export class TestBackend extends MemoryBackend {
  /** The in-memory object store resources are uploaded to. */
  declare readonly objects: InMemoryObjectStore;
  #sent: Task[] = [];

  constructor(options: TestBackendOptions = {}) {
    const bucket = options.bucket ?? TEST_BUCKET;
    super({
      // A store of its own, not registered under a name: nothing else in the process can reach it.
      store: new MemoryStore(`karton-test-${newUuid()}`),
      objects: options.objects ?? new InMemoryObjectStore([bucket]),
      defaultBucket: bucket,
      createDefaultBucket: true,
    });
  }

  /**
   * Records the task as it was sent (its document read back, resources bound to the in-memory
   * store), then queues it like the embedded backend does.
   */
  override async enqueueUnrouted(task: Task, identity: string): Promise<void> {
    this.#sent.push(parseTask(serializeTask(task), { storage: this.objects }));
    await super.enqueueUnrouted(task, identity);
  }

  /** Log records are swallowed; reporting one receiver keeps the "no log consumer" warning away. */
  override async publishLog(): Promise<number> {
    return 1;
  }

  /** Tasks sent since the last {@link takeSent}/{@link clearSent}, in order. */
  get sent(): readonly Task[] {
    return this.#sent;
  }

  /** Returns the recorded tasks and forgets them. */
  takeSent(): Task[] {
    const sent = this.#sent;
    this.#sent = [];
    return sent;
  }

  clearSent(): void {
    this.#sent = [];
  }
}

/** A fresh {@link TestBackend}. */
export function createTestBackend(options?: TestBackendOptions): TestBackend {
  return new TestBackend(options);
}
