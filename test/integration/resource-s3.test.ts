/**
 * Resources against a real S3 server (Ceph RGW via scripts/services.sh) through the backend's
 * S3ObjectStore: every creation path uploads, RemoteResource reads back, zips and extracts.
 * Fails (never skips) without the services.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3ObjectStore } from "../../src/backend/s3/s3-object-store.js";
import { LocalResource, RemoteResource, type ResourceBase, ResourceError } from "../../src/resource/index.js";
import { parseTask, serializeTask, Task } from "../../src/task/index.js";
import { readFixtureBytes, readFixtureText } from "../helpers/fixtures.js";
import { testServices, uniqueName } from "../helpers/services.js";

const services = testServices();
const MiB = 1024 * 1024;
const sha = (data: string | Uint8Array): string => createHash("sha256").update(data).digest("hex");

let store: S3ObjectStore;
let bucket: string;
let work: string;

beforeAll(async () => {
  store = new S3ObjectStore({
    address: services.s3.address,
    accessKey: services.s3.accessKey,
    secretKey: services.s3.secretKey,
  });
  bucket = uniqueName("resource");
  await store.createBucket(bucket);
  work = await mkdtemp(join(tmpdir(), "resource-s3-"));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
  if (store && (await store.bucketExists(bucket))) {
    const versions = await store.listObjectVersions(bucket);
    const entries = [...versions].flatMap(([key, ids]) => ids.map((versionId) => ({ key, versionId })));
    if (entries.length > 0) await store.deleteObjects(bucket, entries);
    await store.deleteBucket(bucket);
  }
  store?.close();
});

/** What a consumer gets: the marker written to the task document, read back and bound to S3. */
function received(resource: ResourceBase): RemoteResource {
  const task = new Task({ type: "sample" }, { payload: { r: resource } });
  const parsed = parseTask(serializeTask(task), { storage: store });
  const remote = parsed.getResource<RemoteResource>("r");
  expect(remote).toBeInstanceOf(RemoteResource);
  return remote;
}

describe("local resources upload, remote resources read back (real S3)", () => {
  it("bytes and UTF-8 strings; the object key is the uid, content and hash match", async () => {
    const local = LocalResource.fromBytes("snow.txt", "snowman ☃ in UTF-8!", { bucket });
    await local.upload(store);
    expect(await store.headObject(bucket, local.uid)).toBe(21);
    const remote = received(local);
    expect(remote.size).toBe(21);
    expect((await remote.content()).toString("utf8")).toBe("snowman ☃ in UTF-8!");
    expect(sha(await remote.content())).toBe(local.sha256);
  });

  it("explicit uid is the S3 key verbatim; zero-byte content round-trips", async () => {
    const explicit = LocalResource.fromBytes("explicit.bin", "twelve bytes", {
      bucket,
      uid: "fixture-explicit-uid-0001",
    });
    await explicit.upload(store);
    expect(await store.headObject(bucket, "fixture-explicit-uid-0001")).toBe(12);

    const empty = LocalResource.fromBytes("empty", new Uint8Array(0), { bucket });
    await empty.upload(store);
    const remote = received(empty);
    expect((await remote.content()).length).toBe(0);
    const path = join(work, "empty.out");
    await remote.downloadToFile(path);
    expect((await stat(path)).size).toBe(0);
  });

  it("a 20 MiB file (multipart) uploads from disk and downloads to a file", async () => {
    const path = join(work, "big.bin");
    const data = Buffer.alloc(20 * MiB);
    for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i, i);
    await writeFile(path, data);
    const local = LocalResource.fromFile("big.bin", path, { bucket });
    await local.upload(store);
    expect(local.sha256).toBe(sha(data));
    expect(await store.headObject(bucket, local.uid)).toBe(20 * MiB);

    const remote = received(local);
    const out = join(work, "big.out");
    await remote.downloadToFile(out);
    expect(sha(await readFile(out))).toBe(local.sha256);
    expect(remote.loaded).toBe(false);
    const hashed = await remote.downloadTemporaryFile(async (p) => sha(await readFile(p)));
    expect(hashed).toBe(local.sha256);
  });

  it("a spooled stream uploads and its temporary file is removed", async () => {
    const local = await LocalResource.fromStream(
      "stream.bin",
      Readable.from([Buffer.from("part one, "), Buffer.from("part two")]),
      { bucket },
    );
    await local.upload(store);
    expect(local.disposed).toBe(true);
    expect((await received(local).content()).toString()).toBe("part one, part two");
  });

  it("a directory resource uploads as a zip and extracts on the other side", async () => {
    const root = join(work, "dumps");
    await mkdir(join(root, "sub", "deeper"), { recursive: true });
    await writeFile(join(root, "readme.txt"), "top-level file\n");
    await writeFile(
      join(root, "sub", "data.bin"),
      Buffer.from(Array.from({ length: 256 }, (_, i) => i % 64)),
    );
    await writeFile(join(root, "sub", "deeper", "empty.txt"), "");
    const local = await LocalResource.fromDirectory("dumps", root, { bucket });
    await local.upload(store);
    const remote = received(local);
    expect(remote.isDirectory).toBe(true);
    expect(await remote.zipFile((zip) => zip.names())).toEqual([
      "readme.txt",
      "sub/data.bin",
      "sub/deeper/empty.txt",
    ]);
    let seen = "";
    const readme = await remote.extractTemporary(async (dir) => {
      seen = dir;
      return readFile(join(dir, "readme.txt"), "utf8");
    });
    expect(readme).toBe("top-level file\n");
    expect(existsSync(seen)).toBe(false);
  });

  it("the Python fixture zip, stored under its fixture uid, reads back with the task's hash", async () => {
    const doc = JSON.parse(readFixtureText("tasks/10-directory-resource.json")) as {
      tasks: { raw: string }[];
    };
    const raw = doc.tasks[0]!.raw.replaceAll('"bucket": "karton-fixtures"', `"bucket": "${bucket}"`);
    const task = parseTask(raw, { storage: store });
    const dumps = task.getResource<RemoteResource>("dumps");
    await store.putObject(bucket, dumps.uid, readFixtureBytes("s3/directory-resource.zip"));
    expect(sha(await dumps.download())).toBe(dumps.sha256);
    expect(await dumps.zipFile(async (zip) => String(await zip.read("readme.txt")))).toBe("top-level file\n");
  });

  it("a missing object is RESOURCE_NOT_FOUND naming the resource", async () => {
    const remote = new RemoteResource(
      { uid: "does-not-exist", name: "ghost.bin", bucket, size: 1, sha256: null, metadata: {}, flags: [] },
      store,
    );
    const err = await remote.content().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceError);
    expect(err).toMatchObject({ code: "RESOURCE_NOT_FOUND", uid: "does-not-exist" });
    expect((err as Error).message).toContain('resource "ghost.bin" (does-not-exist) not found');
  });

  it("forwarding a received resource does not upload it again", async () => {
    const local = LocalResource.fromBytes("once.bin", "once", { bucket });
    await local.upload(store);
    const remote = received(local);
    const child = new Task({ type: "child" }, { payload: { parent: remote, list: [remote] } });
    expect(child.localResources()).toEqual([]);
  });

  it("256 MiB file through real S3: upload and download stay memory-bound", {
    timeout: 300_000,
  }, async () => {
    const path = join(work, "sparse.bin");
    const handle = await open(path, "w");
    await handle.truncate(256 * MiB);
    await handle.close();
    const local = LocalResource.fromFile("sparse.bin", path, { bucket });
    const startRss = process.memoryUsage().rss;
    let peak = startRss;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    try {
      await local.upload(store);
      await received(local).downloadToFile(join(work, "sparse.out"));
    } finally {
      clearInterval(timer);
    }
    const growth = Math.max(peak, process.memoryUsage().rss) - startRss;
    console.log(`[resource-s3] 256 MiB upload+download: RSS peak growth ${(growth / 1e6).toFixed(1)} MB`);
    expect(growth).toBeLessThan(150 * 1000 * 1000);
    expect((await stat(join(work, "sparse.out"))).size).toBe(256 * MiB);
    await rm(join(work, "sparse.out"));
  });
});
