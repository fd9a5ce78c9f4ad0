/**
 * File uploads of S3ObjectStore against the real S3 server (Ceph RGW): a file larger than one
 * buffered PutObject is streamed from disk in one PutObject, or, above `streamedPutMaxBytes`, in a
 * multipart upload; the content read back is the same either way.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LIST_PAGE_KEYS, S3ObjectStore } from "../../src/backend/s3/s3-object-store.js";
import { testServices, uniqueName } from "../helpers/services.js";

const services = testServices();
const keys = {
  address: services.s3.address,
  accessKey: services.s3.accessKey,
  secretKey: services.s3.secretKey,
};
const bucket = uniqueName("s3files");
const dir = mkdtempSync(join(tmpdir(), "karton-s3-files-"));
const stores: S3ObjectStore[] = [];

function store(options: ConstructorParameters<typeof S3ObjectStore>[0]): S3ObjectStore {
  const s = new S3ObjectStore(options);
  stores.push(s);
  return s;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  await store(keys).createBucket(bucket);
});

afterAll(async () => {
  const s = store(keys);
  const versions = await s.listObjectVersions(bucket);
  const entries = [...versions].flatMap(([key, ids]) => ids.map((versionId) => ({ key, versionId })));
  if (entries.length > 0) await s.deleteObjects(bucket, entries);
  await s.deleteBucket(bucket);
  for (const x of stores) x.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("S3ObjectStore file uploads", () => {
  const data = randomBytes(9 * 1024 * 1024 + 17);
  const path = join(dir, "nine.bin");
  writeFileSync(path, data);

  it("streams a file over 8 MiB in one PutObject", async () => {
    const s = store(keys);
    await s.putObject(bucket, "streamed", { path }, data.length);
    expect(await s.headObject(bucket, "streamed")).toBe(data.length);
    expect((await readAll(await s.getObjectStream(bucket, "streamed"))).equals(data)).toBe(true);
  });

  it("sends a file above streamedPutMaxBytes in a multipart upload", async () => {
    const s = store({ ...keys, streamedPutMaxBytes: 0, partSize: 5 * 1024 * 1024 });
    await s.putObject(bucket, "multipart", { path });
    expect(await s.headObject(bucket, "multipart")).toBe(data.length);
    expect((await readAll(await s.getObjectStream(bucket, "multipart"))).equals(data)).toBe(true);
  });

  it("fails clearly when the file is gone", async () => {
    const s = store(keys);
    const err = await s
      .putObject(bucket, "missing", { path: join(dir, "missing.bin") }, 20 * 1024 * 1024)
      .then(
        () => null,
        (e: Error) => e,
      );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain(`"${bucket}/missing"`);
  });
});

describe("S3ObjectStore file uploads of a changing file", () => {
  it("refuses a file whose size is not the announced one", async () => {
    const s = store(keys);
    const path = join(dir, "shrunk.bin");
    writeFileSync(path, randomBytes(9 * 1024 * 1024));
    const err = await s.putObject(bucket, "shrunk", { path }, 10 * 1024 * 1024).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/changed while it was being sent/);
  });
});

describe("S3ObjectStore listing by pages", () => {
  it("lists every version page by page, like listObjectVersions, in pages of at most LIST_PAGE_KEYS", async () => {
    const s = store(keys);
    const listBucket = uniqueName("s3pages");
    await s.createBucket(listBucket);
    try {
      let next = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next < 1005) await s.putObject(listBucket, `k-${next++}`, Buffer.from("x"));
        }),
      );
      const paged = new Map<string, string[]>();
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await s.listObjectVersionsPage(listBucket, cursor);
        // Small pages: the SDK parses a page in one go, blocking the process (the router) meanwhile.
        expect(page.versions.length).toBeLessThanOrEqual(LIST_PAGE_KEYS);
        for (const [key, id] of page.versions) paged.set(key, [...(paged.get(key) ?? []), id]);
        cursor = page.next;
        pages++;
      } while (cursor !== undefined);
      expect(pages).toBeGreaterThanOrEqual(Math.ceil(1005 / LIST_PAGE_KEYS));
      expect(paged).toEqual(await s.listObjectVersions(listBucket));
      expect(paged.size).toBe(1005);
    } finally {
      const entries = [...(await s.listObjectVersions(listBucket))].flatMap(([key, ids]) =>
        ids.map((versionId) => ({ key, versionId })),
      );
      await s.deleteObjects(listBucket, entries);
      await s.deleteBucket(listBucket);
    }
  });
});
