/**
 * A minimal router for service integration tests, until the real karton-system router exists:
 * takes unrouted tasks, forks each one for every bind whose filters match (status Spawned, header
 * `receiver`), and applies the plan atomically through the backend (originals become Finished).
 * No outputs tracking, no legacy operations, no quarantine beyond recording unreadable documents.
 */
import { DeleteBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { Redis } from "ioredis";
import type { KartonBackend } from "../../src/backend/backend.js";
import { createBackend } from "../../src/backend/create-backend.js";
import type { ForkPlan, QuarantineRecord } from "../../src/backend/types.js";
import { type ConfigDict, KartonConfig } from "../../src/config/config.js";
import { compileFilters } from "../../src/filters/index.js";
import { TaskState } from "../../src/task/enums.js";
import type { Task } from "../../src/task/task.js";
import { nextRedisDb, testS3ClientConfig, testServices, uniqueName } from "./services.js";

export interface MiniRouter {
  /** Routes everything currently unrouted once; resolves to the number of originals routed. */
  routeOnce(blockSeconds?: number): Promise<number>;
  /** Stops the background loop (if started) and waits for it. */
  stop(): Promise<void>;
}

export function miniRouter(backend: KartonBackend, options: { background?: boolean } = {}): MiniRouter {
  let stopped = false;

  const routeOnce = async (blockSeconds = 0.2): Promise<number> => {
    const taken = await backend.takeUnrouted(100, blockSeconds);
    if (taken.length === 0) return 0;
    const { binds } = await backend.getBinds();
    const forks: ForkPlan[] = [];
    const finished: Task[] = [];
    const quarantined: QuarantineRecord[] = [];
    for (const uid of taken) {
      let task: Task | null;
      try {
        task = await backend.getTask(uid, { decodeResources: false });
      } catch (error) {
        quarantined.push({
          subject: uid,
          kind: "task",
          reason: (error as Error).message,
          raw: null,
          at: Date.now() / 1000,
          reporter: "mini-router",
        });
        continue;
      }
      if (task === null) continue;
      for (const bind of binds) {
        let matches = false;
        try {
          matches = compileFilters(bind.filters).matches(task.headers);
        } catch {
          matches = false;
        }
        if (!matches) continue;
        const fork = task.fork();
        fork.setStatus(TaskState.Spawned);
        fork.headers.receiver = bind.identity;
        forks.push({ task: fork, identity: bind.identity, priority: fork.priority });
      }
      task.setStatus(TaskState.Finished);
      finished.push(task);
    }
    await backend.applyRoutePlan({ taken, finished, forks, outputs: [], outputsTtl: null, quarantined });
    return finished.length;
  };

  let loop: Promise<void> = Promise.resolve();
  if (options.background !== false) {
    loop = (async () => {
      while (!stopped) {
        try {
          await routeOnce(0.2);
        } catch {
          if (!stopped) await new Promise((r) => setTimeout(r, 200));
        }
      }
    })();
  }

  return {
    routeOnce,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

// ---- the environment the service integration tests run in ------------------------------------

export interface ServiceTestEnv {
  db: number;
  bucket: string;
  /** Raw connection to the test db, for assertions only. */
  redis: Redis;
  /** A fresh configuration for this env (the extra sections given to {@link serviceTestEnv} merged in). */
  config(extra?: ConfigDict): KartonConfig;
  /** A backend on this env (closed by cleanup). */
  backend(identity?: string, clientName?: string | null): KartonBackend;
  router: MiniRouter;
  /** Stops the router, closes the backends, flushes the db and deletes the bucket. */
  cleanup(): Promise<void>;
}

/** A Redis db (flushed) and a bucket (created) of the test servers, plus a running mini router. */
export async function serviceTestEnv(
  options: { extra?: ConfigDict; redisPort?: number; router?: boolean } = {},
): Promise<ServiceTestEnv> {
  const services = testServices();
  const db = nextRedisDb();
  const bucket = uniqueName("svc");
  const port = options.redisPort ?? services.redis.port;
  const redis = new Redis({
    host: services.redis.host,
    port,
    db,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
  });
  redis.on("error", () => {}); // fault tests restart the server under this connection
  await redis.connect();
  await redis.flushdb();
  const base: ConfigDict = {
    redis: { host: services.redis.host, port, db },
    s3: {
      address: services.s3.address,
      access_key: services.s3.accessKey,
      secret_key: services.s3.secretKey,
      bucket,
    },
  };
  const config = (extra: ConfigDict = {}): KartonConfig => {
    const c = KartonConfig.fromDict(base, { env: {} });
    c.loadFromDict(options.extra ?? {});
    c.loadFromDict(extra);
    return c;
  };
  const backends: KartonBackend[] = [];
  const backend = (identity = "karton.test-env", clientName: string | null = null): KartonBackend => {
    const b = createBackend(config(), { identity, clientName });
    backends.push(b);
    return b;
  };
  const admin = backend();
  await admin.ping();
  await admin.objects.createBucket(bucket);
  const router = miniRouter(backend("karton.mini-router"), { background: options.router !== false });
  return {
    db,
    bucket,
    redis,
    config,
    backend,
    router,
    async cleanup() {
      await router.stop();
      try {
        const versions = await admin.objects.listObjectVersions(bucket);
        const entries = [...versions].flatMap(([key, ids]) => ids.map((versionId) => ({ key, versionId })));
        if (entries.length > 0) await admin.objects.deleteObjects(bucket, entries);
        const s3 = new S3Client(testS3ClientConfig(services));
        await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
        s3.destroy();
      } catch {
        // best effort: the bucket name is unique
      }
      await Promise.allSettled(backends.map((b) => b.close()));
      await redis.flushdb().catch(() => undefined);
      redis.disconnect();
    },
  };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
