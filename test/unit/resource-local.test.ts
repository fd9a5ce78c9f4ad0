import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalResource, RESOURCE_MARKER, Resource, ResourceError } from "../../src/resource/index.js";
import { MemoryObjectStorage } from "../helpers/memory-object-storage.js";

const sha = (data: string | Uint8Array): string => createHash("sha256").update(data).digest("hex");

/** The private temp file behind a spooled/zipped resource (white-box, for cleanup assertions). */
function tempPathOf(resource: LocalResource): string {
  const source = (resource as unknown as { source: { kind: string; path: string } }).source;
  expect(source.kind).toBe("temp");
  return source.path;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "resource-local-test-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("LocalResource.fromBytes", () => {
  it("hashes and sizes bytes at creation", async () => {
    const r = LocalResource.fromBytes("sample.bin", new Uint8Array([1, 2, 3]));
    expect(r.size).toBe(3);
    expect(r.sha256).toBe(sha(new Uint8Array([1, 2, 3])));
    expect(r.flags).toEqual([]);
    expect(r.isDirectory).toBe(false);
    expect(r.uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await r.content()).toEqual(Buffer.from([1, 2, 3]));
  });

  it("encodes strings as UTF-8 (☃ is 3 bytes)", async () => {
    const text = "snowman ☃ in UTF-8!"; // 18 ASCII characters + ☃
    const r = Resource.fromBytes("str-content.txt", text);
    expect(r.size).toBe(21);
    expect(r.sha256).toBe(sha(Buffer.from(text, "utf8")));
    expect((await r.content()).toString("utf8")).toBe(text);
  });

  it("copies the bytes (later mutation does not change content or hash)", async () => {
    const data = new Uint8Array([9, 9, 9]);
    const r = LocalResource.fromBytes("copy.bin", data);
    data[0] = 0;
    expect((await r.content())[0]).toBe(9);
    expect(r.sha256).toBe(sha(new Uint8Array([9, 9, 9])));
  });

  it("allows zero-byte content (Python refuses it; documented difference)", async () => {
    const r = LocalResource.fromBytes("empty", "");
    expect(r.size).toBe(0);
    expect(r.sha256).toBe(sha(""));
    const storage = new MemoryObjectStorage();
    r.bucket = "b";
    await r.upload(storage);
    expect(storage.get("b", r.uid)).toEqual(Buffer.alloc(0));
  });

  it("trusts a given sha256 (argument, or metadata.sha256) without checking it", () => {
    const given = "0".repeat(64);
    expect(LocalResource.fromBytes("x", "abc", { sha256: given }).sha256).toBe(given);
    expect(LocalResource.fromBytes("x", "abc", { metadata: { sha256: given } }).sha256).toBe(given);
    expect(LocalResource.fromBytes("x", "abc").sha256).toBe(sha("abc"));
  });

  it("Resource is the LocalResource alias", () => {
    expect(Resource).toBe(LocalResource);
    const r: Resource = Resource.fromBytes("a", "b");
    expect(r).toBeInstanceOf(LocalResource);
  });
});

describe("marker (toJSON)", () => {
  it("has the seven keys, metadata merged with sha256, explicit uid verbatim", () => {
    const r = LocalResource.fromBytes("explicit.bin", "twelve bytes", {
      uid: "fixture-explicit-uid-0001",
      bucket: "karton-fixtures",
      metadata: { magic: "ASCII text", nested: { k: [1, 2] } },
    });
    const marker = r.toJSON();
    expect(Object.keys(marker)).toEqual([RESOURCE_MARKER]);
    const inner = marker[RESOURCE_MARKER] as Record<string, unknown>;
    expect(Object.keys(inner).sort()).toEqual([
      "bucket",
      "flags",
      "metadata",
      "name",
      "sha256",
      "size",
      "uid",
    ]);
    expect(inner).toEqual({
      bucket: "karton-fixtures",
      flags: [],
      metadata: { magic: "ASCII text", nested: { k: [1, 2] }, sha256: sha("twelve bytes") },
      name: "explicit.bin",
      sha256: sha("twelve bytes"),
      size: 12,
      uid: "fixture-explicit-uid-0001",
    });
  });

  it("a file resource has size/sha256 null until prepare()", async () => {
    const path = join(dir, "f.bin");
    await writeFile(path, "0123456789");
    const r = LocalResource.fromFile("f.bin", path, { bucket: "b" });
    expect(r.size).toBeNull();
    expect((r.toJSON()[RESOURCE_MARKER] as Record<string, unknown>).sha256).toBeNull();
    await r.prepare();
    expect(r.size).toBe(10);
    expect(r.sha256).toBe(sha("0123456789"));
    expect((r.toJSON()[RESOURCE_MARKER] as { metadata: unknown }).metadata).toEqual({
      sha256: sha("0123456789"),
    });
  });
});

describe("LocalResource.fromFile", () => {
  it("hashes streaming on prepare, re-hashes only when the file changed", async () => {
    const path = join(dir, "data.bin");
    await writeFile(path, "first");
    const r = LocalResource.fromFile("data.bin", path);
    await r.prepare();
    expect(r.sha256).toBe(sha("first"));
    await writeFile(path, "second version");
    await r.prepare();
    expect(r.size).toBe(14);
    expect(r.sha256).toBe(sha("second version"));
  });

  it("keeps a given sha256 (trusted) and only stats the file", async () => {
    const path = join(dir, "data.bin");
    await writeFile(path, "content");
    const r = LocalResource.fromFile("data.bin", path, { sha256: "f".repeat(64) });
    await r.prepare();
    expect(r.size).toBe(7);
    expect(r.sha256).toBe("f".repeat(64));
  });

  it("uploads a path body (streamed from disk) with the known size", async () => {
    const path = join(dir, "data.bin");
    await writeFile(path, Buffer.alloc(300_000, 7));
    const r = LocalResource.fromFile("data.bin", path, { bucket: "bkt" });
    const storage = new MemoryObjectStorage();
    await r.upload(storage);
    expect(storage.puts).toEqual([{ bucket: "bkt", key: r.uid, size: 300_000, kind: "path" }]);
    expect(storage.get("bkt", r.uid)?.equals(Buffer.alloc(300_000, 7))).toBe(true);
    expect(existsSync(path)).toBe(true); // the user's file is never removed
  });

  it("reports a missing file with RESOURCE_SOURCE naming resource and path", async () => {
    const path = join(dir, "missing.bin");
    const r = LocalResource.fromFile("missing.bin", path);
    const err = await r.prepare().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceError);
    expect((err as ResourceError).code).toBe("RESOURCE_SOURCE");
    expect((err as ResourceError).message).toContain('resource "missing.bin"');
    expect((err as ResourceError).message).toContain(r.uid);
    expect((err as ResourceError).message).toContain(path);
    expect((err as ResourceError).message).toContain("ENOENT");
  });

  it("refuses a directory path", async () => {
    const r = LocalResource.fromFile("d", dir);
    await expect(r.prepare()).rejects.toMatchObject({
      code: "RESOURCE_SOURCE",
      message: expect.stringContaining(dir),
    });
  });

  it("refuses to upload without a bucket (INVALID_RESOURCE)", async () => {
    const r = LocalResource.fromBytes("nobucket", "x");
    await expect(r.upload(new MemoryObjectStorage())).rejects.toMatchObject({
      code: "INVALID_RESOURCE",
      message: expect.stringContaining('resource "nobucket"'),
    });
  });
});

describe("LocalResource.fromStream", () => {
  it("spools a Node stream of unknown length to a temp file while hashing", async () => {
    const parts = [Buffer.from("hello "), Buffer.from("stream "), Buffer.from("world")];
    const r = await LocalResource.fromStream("s.txt", Readable.from(parts), { bucket: "b" });
    expect(r.size).toBe(18);
    expect(r.sha256).toBe(sha("hello stream world"));
    const spool = tempPathOf(r);
    expect(existsSync(spool)).toBe(true);
    expect((await r.content()).toString()).toBe("hello stream world");

    const storage = new MemoryObjectStorage();
    await r.upload(storage);
    expect(storage.puts[0]).toMatchObject({ kind: "path", size: 18 });
    expect(storage.get("b", r.uid)?.toString()).toBe("hello stream world");
    // Removed after a successful upload, with its private directory.
    expect(existsSync(spool)).toBe(false);
    expect(existsSync(dirname(spool))).toBe(false);
    expect(r.disposed).toBe(true);
    await expect(r.content()).rejects.toMatchObject({ code: "RESOURCE_SOURCE" });
  });

  it("accepts async iterables of strings (UTF-8) and an empty stream", async () => {
    async function* gen(): AsyncGenerator<string> {
      yield "☃";
      yield "x";
    }
    const r = await LocalResource.fromStream("gen", gen());
    expect(r.size).toBe(4);
    expect(r.sha256).toBe(sha("☃x"));
    await r.dispose();

    const empty = await LocalResource.fromStream("empty", Readable.from([]));
    expect(empty.size).toBe(0);
    expect(empty.sha256).toBe(sha(""));
    await empty.dispose();
  });

  it("keeps the temp file until dispose() when not uploaded; dispose is idempotent", async () => {
    const r = await LocalResource.fromStream("s", Readable.from([Buffer.from("abc")]));
    const spool = tempPathOf(r);
    expect(existsSync(spool)).toBe(true);
    await r.dispose();
    await r.dispose();
    expect(existsSync(spool)).toBe(false);
  });

  it("keeps the temp file when the upload fails (so it can be retried)", async () => {
    const r = await LocalResource.fromStream("s", Readable.from([Buffer.from("abc")]), { bucket: "b" });
    const failing = {
      async putObject(): Promise<void> {
        throw new Error("network down");
      },
      async getObjectStream(): Promise<Readable> {
        throw new Error("unused");
      },
    };
    await expect(r.upload(failing)).rejects.toThrow("network down");
    expect(existsSync(tempPathOf(r))).toBe(true);
    const storage = new MemoryObjectStorage();
    await r.upload(storage);
    expect(storage.get("b", r.uid)?.toString()).toBe("abc");
  });

  it("uses a given sha256 but still measures the size", async () => {
    const r = await LocalResource.fromStream("s", Readable.from([Buffer.from("abcd")]), {
      sha256: "a".repeat(64),
    });
    expect(r.sha256).toBe("a".repeat(64));
    expect(r.size).toBe(4);
    await r.dispose();
  });

  it("reports a failing source stream as RESOURCE_SOURCE and leaves no temp file", async () => {
    const bad = new Readable({
      read() {
        this.destroy(new Error("upstream broke"));
      },
    });
    const err = await LocalResource.fromStream("broken.bin", bad).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "RESOURCE_SOURCE" });
    expect((err as Error).message).toContain('resource "broken.bin"');
    expect((err as Error).message).toContain("upstream broke");
  });
});
