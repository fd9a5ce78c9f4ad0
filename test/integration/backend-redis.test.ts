/**
 * The shared backend suite against the Redis backend, on a real Redis (own db, flushed before each
 * test) and a real S3 server (Ceph RGW; a fresh bucket per test). Fails without the services.
 */
import { Redis } from "ioredis";
import { RedisBackend } from "../../src/backend/redis/redis-backend.js";
import { S3ObjectStore } from "../../src/backend/s3/s3-object-store.js";
import { backendSuite } from "../backend/suite.js";
import { nextRedisDb, testServices, uniqueName } from "../helpers/services.js";

const services = testServices();
const db = nextRedisDb();
const redisOptions = {
  host: services.redis.host,
  port: services.redis.port,
  db,
  ssl: false,
  socketTimeout: 30,
};

function store(): S3ObjectStore {
  return new S3ObjectStore({
    address: services.s3.address,
    accessKey: services.s3.accessKey,
    secretKey: services.s3.secretKey,
  });
}

/** Deletes every object version of a bucket, then the bucket. */
async function dropBucket(objects: S3ObjectStore, bucket: string): Promise<void> {
  if (!(await objects.bucketExists(bucket))) return;
  const versions = await objects.listObjectVersions(bucket);
  const entries = [...versions].flatMap(([key, ids]) => ids.map((versionId) => ({ key, versionId })));
  if (entries.length > 0) await objects.deleteObjects(bucket, entries);
  await objects.deleteBucket(bucket);
}

backendSuite("redis", async () => {
  const admin = new Redis({ ...redisOptions, lazyConnect: true });
  await admin.flushdb();
  const objects = store();
  const bucket = uniqueName("suite");
  await objects.createBucket(bucket);
  const clientName = `suite.main?karton_version=test&x=${encodeURIComponent("a b")}`;
  const backend = new RedisBackend({ redis: redisOptions, objects, defaultBucket: bucket, clientName });
  const peers: RedisBackend[] = [];
  return {
    backend,
    bucket,
    clientName,
    async peer() {
      const peer = new RedisBackend({ redis: redisOptions, objects: store(), defaultBucket: bucket });
      peers.push(peer);
      await peer.ping();
      return peer;
    },
    async writeRawBind(identity, raw) {
      await admin.hset("karton.binds", identity, raw);
    },
    async cleanup() {
      await Promise.all(peers.map((p) => p.close()));
      const cleaner = store();
      try {
        await dropBucket(cleaner, bucket);
        await dropBucket(cleaner, `${bucket.slice(0, 50)}-new`);
      } finally {
        cleaner.close();
      }
      await backend.close();
      await admin.quit();
    },
  };
});
