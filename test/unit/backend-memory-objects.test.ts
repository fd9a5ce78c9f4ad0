/**
 * The embedded backend's local-directory object store: streaming with bounded memory, reversible
 * key encoding, path-traversal attempts, atomic replacement, versions and bucket handling.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Readable } from "node:stream";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  decodeName,
  encodeName,
  keySegments,
  LocalObjectStore,
  LocalObjectStoreError,
  SEGMENT_CHARS,
} from "../../src/backend/memory/local-object-store.js";
import { ResourceError } from "../../src/resource/errors.js";

const MiB = 1024 * 1024;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Every file below `dir`, as paths relative to it. */
async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

let root: string;
let store: LocalObjectStore;
const bucket = "karton";

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "karton-local-store-"));
  store = new LocalObjectStore({ root: join(root, "objects") });
  await store.createBucket(bucket);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("name encoding", () => {
  const names = [
    "3f2a1c9e-7b1d-4c1e-9a8f-0e2d4b6c8a10",
    "a/b/c",
    "..",
    ".",
    "../../etc/passwd",
    "/absolute/path",
    "with space and + and %41",
    "nul\0byte",
    "back\\slash",
    "ünïcødé ✓ 😀",
    ".hidden",
    ".tmp-looks-like-a-temp-file",
    "trailing+",
    "x".repeat(1024),
    "é".repeat(300),
  ];

  it("is reversible and yields only [A-Za-z0-9_%-]", () => {
    for (const name of names) {
      const encoded = encodeName(name);
      expect(encoded).toMatch(/^[A-Za-z0-9_%-]*$/);
      expect(decodeName(encoded)).toBe(name);
    }
    expect(encodeName("a.b/c")).toBe("a%2Eb%2Fc");
    expect(decodeName("not.an.encoding")).toBeNull();
    expect(decodeName("%zz")).toBeNull();
  });

  it("splits long names into short components without cutting an escape", () => {
    for (const name of names) {
      const parts = keySegments(name);
      for (const part of parts) expect(part.length).toBeLessThanOrEqual(SEGMENT_CHARS + 1);
      for (const part of parts.slice(0, -1)) expect(part.endsWith("+")).toBe(true);
      expect(parts.at(-1)!.endsWith("+")).toBe(false);
      const joined = parts.map((p) => (p.endsWith("+") ? p.slice(0, -1) : p)).join("");
      expect(decodeName(joined)).toBe(name);
    }
  });

  it("stores any key inside its bucket directory and lists it back exactly", async () => {
    for (const [i, key] of names.entries()) await store.putObject(bucket, key, Buffer.from(`v${i}`));
    const listed = await store.listObjectVersions(bucket);
    expect(new Set(listed.keys())).toEqual(new Set(names));
    for (const [i, key] of names.entries()) {
      expect((await readAll(await store.getObjectStream(bucket, key))).toString()).toBe(`v${i}`);
      expect(await store.headObject(bucket, key)).toBe(`v${i}`.length);
    }
    // Nothing outside <root>/objects/karton, no file named by a raw key.
    const all = await filesBelow(root);
    for (const file of all) expect(file.startsWith(join("objects", "karton"))).toBe(true);
    expect(all).not.toContain(join("objects", "karton", "a", "b", "c"));
    await expect(stat(join(root, "etc"))).rejects.toThrow();
    await store.deleteObjects(
      bucket,
      names.map((key) => ({ key, versionId: "null" })),
    );
    expect((await store.listObjectVersions(bucket)).size).toBe(0);
    expect(await filesBelow(join(root, "objects"))).toEqual([]);
    // The directories of long keys went with them.
    expect(await readdir(join(root, "objects", "karton"))).toEqual([]);
  });

  it("treats traversal attempts in bucket names as plain names", async () => {
    await store.createBucket("../escape");
    await store.putObject("../escape", "k", Buffer.from("x"));
    expect(await filesBelow(root)).toEqual([join("objects", "%2E%2E%2Fescape", "k")]);
    expect(await store.bucketExists("..")).toBe(false);
    await expect(store.createBucket("")).rejects.toMatchObject({ code: "INVALID_NAME" });
    await expect(store.putObject(bucket, "", Buffer.from("x"))).rejects.toMatchObject({
      code: "INVALID_NAME",
    });
  });
});

describe("objects", () => {
  it("streams a 50 MB object in and out with bounded memory", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const size = 50 * MiB;
    const block = randomBytes(MiB);
    const expected = createHash("sha256");
    for (let i = 0; i < 50; i++) expected.update(block);
    let produced = 0;
    const source = Readable.from(
      (function* () {
        for (; produced < size; produced += block.length) yield block;
      })(),
      { objectMode: false },
    );

    gc();
    const base = process.memoryUsage();
    let peakBuffers = 0;
    let peakRss = 0;
    const sample = (): void => {
      gc();
      const now = process.memoryUsage();
      peakBuffers = Math.max(peakBuffers, now.arrayBuffers - base.arrayBuffers);
      peakRss = Math.max(peakRss, now.rss - base.rss);
    };
    const sampler = setInterval(sample, 20);
    try {
      await store.putObject(bucket, "big", source, size);
      expect(await store.headObject(bucket, "big")).toBe(size);
      const hash = createHash("sha256");
      let read = 0;
      for await (const chunk of await store.getObjectStream(bucket, "big")) {
        hash.update(chunk as Buffer);
        read += (chunk as Buffer).length;
        if (read % (8 * MiB) < 65536) sample();
      }
      expect(read).toBe(size);
      expect(hash.digest("hex")).toBe(expected.digest("hex"));
    } finally {
      clearInterval(sampler);
    }
    sample();
    console.log(
      `[local-object-store] 50 MB round trip: peak buffers +${(peakBuffers / MiB).toFixed(1)} MiB, peak RSS +${(peakRss / MiB).toFixed(1)} MiB`,
    );
    // A buffered implementation would hold ≥ 50 MB of buffers at some point.
    expect(peakBuffers).toBeLessThan(12 * MiB);
    expect(peakRss).toBeLessThan(45 * MiB);
  });

  it("reads lazily: an opened stream has read little of a large object", async () => {
    await store.putObject(bucket, "lazy", Buffer.alloc(8 * MiB, 1));
    const stream = (await store.getObjectStream(bucket, "lazy")) as Readable & { bytesRead: number };
    const first = await new Promise<Buffer>((resolve) => stream.once("data", resolve));
    stream.pause();
    expect(first.length).toBeLessThanOrEqual(MiB);
    expect(stream.bytesRead).toBeLessThan(2 * MiB);
    stream.destroy();
  });

  it("uploads files and reads ranges", async () => {
    const file = join(root, "src.bin");
    const data = randomBytes(300_000);
    await writeFile(file, data);
    await store.putObject(bucket, "file", { path: file }, data.length);
    expect((await readAll(await store.getObjectStream(bucket, "file"))).equals(data)).toBe(true);
    expect(
      (await readAll(await store.getObjectRange(bucket, "file", 10, 20))).equals(data.subarray(10, 20)),
    ).toBe(true);
    expect((await readAll(await store.getObjectRange(bucket, "file", 5, 5))).length).toBe(0);
  });

  it("rejects a body of another size than declared and leaves nothing behind", async () => {
    await expect(
      store.putObject(bucket, "short", Readable.from([Buffer.from("abc")]), 10),
    ).rejects.toMatchObject({ code: "SIZE_MISMATCH" });
    expect(await readdir(join(root, "objects", bucket))).toEqual([]);
  });

  it("a failing source stream leaves the previous object intact and no temporary file", async () => {
    await store.putObject(bucket, "k", Buffer.from("old"));
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(1000, 2));
        this.destroy(new Error("source broke"));
      },
    });
    await expect(store.putObject(bucket, "k", failing)).rejects.toThrow(/source broke/);
    expect((await readAll(await store.getObjectStream(bucket, "k"))).toString()).toBe("old");
    expect(await readdir(join(root, "objects", bucket))).toEqual(["k"]);
  });

  it("a reader keeps its version while the object is replaced or deleted", async () => {
    await store.putObject(bucket, "k", Buffer.alloc(2 * MiB, 1));
    const stream = await store.getObjectStream(bucket, "k");
    await store.putObject(bucket, "k", Buffer.alloc(10, 2));
    await store.deleteObjects(bucket, [{ key: "k" }]);
    const data = await readAll(stream);
    expect(data.length).toBe(2 * MiB);
    expect(data.every((b) => b === 1)).toBe(true);
    expect(await store.headObject(bucket, "k")).toBeNull();
  });

  it("has one null version per object; other version ids delete nothing", async () => {
    await store.putObject(bucket, "a", Buffer.from("1"));
    await store.putObject(bucket, "a", Buffer.from("2"));
    expect(await store.listObjectVersions(bucket)).toEqual(new Map([["a", ["null"]]]));
    await store.deleteObjects(bucket, [{ key: "a", versionId: "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY" }]);
    expect(await store.headObject(bucket, "a")).toBe(1);
    await store.deleteObjects(bucket, [{ key: "a", versionId: "null" }, { key: "missing" }]);
    expect(await store.headObject(bucket, "a")).toBeNull();
  });

  it("reports missing objects and buckets clearly", async () => {
    const err = await store.getObjectStream(bucket, "nope").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceError);
    expect((err as ResourceError).code).toBe("RESOURCE_NOT_FOUND");
    expect((err as Error).message).toContain(`"${bucket}/nope"`);
    const noBucket = await store.getObjectStream("other", "k").catch((e: unknown) => e);
    expect((noBucket as Error).message).toMatch(/no such bucket/);
    await expect(store.putObject("other", "k", Buffer.from("x"))).rejects.toBeInstanceOf(
      LocalObjectStoreError,
    );
    await expect(store.putObject("other", "k", Buffer.from("x"))).rejects.toMatchObject({
      code: "NO_SUCH_BUCKET",
    });
    await expect(store.listObjectVersions("other")).rejects.toMatchObject({ code: "NO_SUCH_BUCKET" });
    expect(await store.headObject("other", "k")).toBeNull();
  });

  it("creates buckets idempotently and deletes only empty ones", async () => {
    expect(await store.bucketExists("b2")).toBe(false);
    await store.createBucket("b2");
    await store.createBucket("b2");
    expect(await store.bucketExists("b2")).toBe(true);
    await store.putObject("b2", "k", Buffer.from("x"));
    await expect(store.deleteBucket("b2")).rejects.toMatchObject({ code: "BUCKET_NOT_EMPTY" });
    await store.deleteObjects("b2", [{ key: "k" }]);
    await store.deleteBucket("b2");
    expect(await store.bucketExists("b2")).toBe(false);
    await store.deleteBucket("b2");
  });

  it("temporary stores live in a fresh directory removed by dispose()", async () => {
    const temp = LocalObjectStore.temporary("karton-test-temp-");
    await temp.createBucket("b");
    await temp.putObject("b", "k", Buffer.from("x"));
    expect((await stat(temp.root)).isDirectory()).toBe(true);
    await temp.dispose();
    await expect(stat(temp.root)).rejects.toThrow();
  });
});
