// The test servers themselves: real Redis and a real S3 gateway must be reachable and behave.
import { createHash, randomBytes } from "node:crypto";
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nextRedisDb, testS3ClientConfig, testServices, uniqueName } from "../helpers/services.js";

const sha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");

describe("test services", () => {
  describe("helpers", () => {
    it("uniqueName gives distinct S3-valid bucket names", () => {
      const names = [
        uniqueName("Karton_Test.Bucket"),
        uniqueName("x".repeat(100)),
        uniqueName("--"),
        uniqueName("a"),
      ];
      expect(new Set(names).size).toBe(names.length);
      for (const name of names) {
        expect(name).toMatch(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/);
        expect(name).not.toContain("--");
      }
    });

    it("nextRedisDb hands out 1..15 round-robin", () => {
      const dbs = Array.from({ length: 30 }, () => nextRedisDb());
      for (const db of dbs) expect(db).toBeGreaterThanOrEqual(1);
      for (const db of dbs) expect(db).toBeLessThanOrEqual(15);
      expect(new Set(dbs.slice(0, 15)).size).toBe(15);
      expect(dbs.slice(15)).toEqual(dbs.slice(0, 15));
    });

    it("testServices fails clearly when the variables are missing", () => {
      expect(() => testServices({})).toThrow(/integration tests need real Redis and S3/);
      expect(() => testServices({})).toThrow(/scripts\/services\.sh --help/);
    });
  });

  describe("redis", () => {
    let redis: Redis;
    const db = nextRedisDb();

    beforeAll(async () => {
      const { host, port } = testServices().redis;
      redis = new Redis({ host, port, db, lazyConnect: true, maxRetriesPerRequest: 1 });
      await redis.connect();
      await redis.flushdb();
    });

    afterAll(async () => {
      await redis?.quit();
    });

    it("stores and returns values", async () => {
      const key = `${uniqueName("services")}:key`;
      expect(await redis.ping()).toBe("PONG");
      expect(await redis.set(key, "värde ✓")).toBe("OK");
      expect(await redis.get(key)).toBe("värde ✓");
      expect(await redis.del(key)).toBe(1);
      expect(await redis.get(key)).toBeNull();
    });
  });

  describe("s3", () => {
    let s3: S3Client;
    const bucket = uniqueName("services");

    beforeAll(async () => {
      s3 = new S3Client(testS3ClientConfig());
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    });

    afterAll(async () => {
      try {
        await s3?.send(new DeleteBucketCommand({ Bucket: bucket }));
      } catch {
        // Already deleted by the test, or the test failed with objects left: nothing to do.
      }
      s3?.destroy();
    });

    it("round-trips an object, lists its version, deletes it and the bucket", async () => {
      const key = "dir/sample.bin";
      const body = new Uint8Array(randomBytes(300_000));

      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));

      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const bytes = await got.Body?.transformToByteArray();
      expect(bytes).toBeDefined();
      expect(bytes?.length).toBe(body.length);
      expect(sha256(bytes as Uint8Array)).toBe(sha256(body));

      const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
      expect((versions.Versions ?? []).map((v) => v.Key)).toEqual([key]);

      const deleted = await s3.send(
        new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: key }] } }),
      );
      expect(deleted.Errors ?? []).toEqual([]);
      expect((deleted.Deleted ?? []).map((d) => d.Key)).toEqual([key]);

      const after = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
      expect(after.Versions ?? []).toEqual([]);

      await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    });
  });
});
