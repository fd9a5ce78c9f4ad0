import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  LocalResource,
  RemoteResource,
  ResourceError,
  type ResourceMarker,
} from "../../src/resource/index.js";
import { Task } from "../../src/task/task.js";
import { MemoryObjectStorage } from "../helpers/memory-object-storage.js";

const sha = (data: string | Uint8Array): string => createHash("sha256").update(data).digest("hex");

function marker(fields: Partial<ResourceMarker> = {}): ResourceMarker {
  return {
    uid: "obj-1",
    name: "sample.exe",
    bucket: "karton",
    size: null,
    sha256: null,
    metadata: {},
    flags: [],
    ...fields,
  };
}

let work: string;
let storage: MemoryObjectStorage;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "resource-remote-test-"));
  storage = new MemoryObjectStorage(5); // tiny chunks: really streams
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

async function zipOf(files: Record<string, string>): Promise<Buffer> {
  const { default: yazl } = await import("yazl");
  const zip = new yazl.ZipFile();
  for (const [name, content] of Object.entries(files)) zip.addBuffer(Buffer.from(content), name);
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe("RemoteResource content", () => {
  it("content() downloads lazily and caches; loaded/unload", async () => {
    storage.set("karton", "obj-1", "remote bytes here");
    const r = new RemoteResource(marker({ size: 17 }), storage);
    expect(r.loaded).toBe(false);
    expect(storage.gets).toHaveLength(0);
    expect((await r.content()).toString()).toBe("remote bytes here");
    expect(r.loaded).toBe(true);
    await r.content();
    expect(storage.gets).toHaveLength(1);
    r.unload();
    expect(r.loaded).toBe(false);
    await r.content();
    expect(storage.gets).toHaveLength(2);
  });

  it("download() fetches again and keeps the content", async () => {
    storage.set("karton", "obj-1", "v1");
    const r = new RemoteResource(marker(), storage);
    expect((await r.download()).toString()).toBe("v1");
    storage.set("karton", "obj-1", "v2");
    expect((await r.content()).toString()).toBe("v1");
    expect((await r.download()).toString()).toBe("v2");
  });

  it("openStream() streams from storage, or from memory when loaded", async () => {
    storage.set("karton", "obj-1", "streamed content");
    const r = new RemoteResource(marker(), storage);
    const read = async (): Promise<string> => {
      const chunks: Buffer[] = [];
      for await (const c of await r.openStream()) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString();
    };
    expect(await read()).toBe("streamed content");
    expect(storage.gets).toHaveLength(1);
    await r.download();
    expect(await read()).toBe("streamed content");
    expect(storage.gets).toHaveLength(2); // the download, not the second stream
  });

  it("missing object: RESOURCE_NOT_FOUND naming the resource, uid and bucket", async () => {
    const r = new RemoteResource(marker({ uid: "gone-uid", name: "gone.bin" }), storage);
    const err = await r.content().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceError);
    expect(err).toMatchObject({ code: "RESOURCE_NOT_FOUND", resource: "gone.bin", uid: "gone-uid" });
    expect((err as Error).message).toContain('resource "gone.bin" (gone-uid)');
    expect((err as Error).message).toContain('bucket "karton"');
  });

  it("unbound: RESOURCE_UNBOUND; bind() fixes it", async () => {
    storage.set("karton", "obj-1", "x");
    const r = new RemoteResource(marker());
    expect(r.bound).toBe(false);
    await expect(r.content()).rejects.toMatchObject({
      code: "RESOURCE_UNBOUND",
      message: expect.stringContaining('resource "sample.exe" (obj-1)'),
    });
    r.bind(storage);
    expect((await r.content()).toString()).toBe("x");
  });

  it("no bucket: INVALID_RESOURCE", async () => {
    const r = new RemoteResource(marker({ bucket: null }), storage);
    await expect(r.content()).rejects.toMatchObject({ code: "INVALID_RESOURCE" });
  });

  it("wraps other storage failures as RESOURCE_SOURCE with the cause", async () => {
    const broken = {
      async getObjectStream(): Promise<never> {
        throw new Error("connection reset");
      },
      async putObject(): Promise<void> {},
    };
    const err = await new RemoteResource(marker(), broken).content().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "RESOURCE_SOURCE" });
    expect((err as Error).message).toContain("connection reset");
    expect((err as Error).cause).toBeInstanceOf(Error);
  });
});

describe("RemoteResource to files", () => {
  it("downloadToFile() streams into an existing directory", async () => {
    const data = Buffer.alloc(100_000, 3);
    storage.set("karton", "obj-1", data);
    const r = new RemoteResource(marker(), storage);
    const path = join(work, "sample.exe");
    await r.downloadToFile(path);
    expect(sha(await readFile(path))).toBe(sha(data));
    expect(r.loaded).toBe(false);
  });

  it("downloadToFile() overwrites, and uses memory when loaded", async () => {
    storage.set("karton", "obj-1", "from memory");
    const r = new RemoteResource(marker(), storage);
    await r.download();
    storage.set("karton", "obj-1", "changed in storage");
    const path = join(work, "out.txt");
    await r.downloadToFile(path);
    await r.downloadToFile(path);
    expect(await readFile(path, "utf8")).toBe("from memory");
    expect(storage.gets).toHaveLength(1);
  });

  it("downloadToFile() into a missing directory: RESOURCE_DESTINATION, nothing created", async () => {
    storage.set("karton", "obj-1", "x");
    const r = new RemoteResource(marker(), storage);
    const path = join(work, "no", "such", "dir", "file.bin");
    const err = await r.downloadToFile(path).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "RESOURCE_DESTINATION", path });
    expect((err as Error).message).toContain('resource "sample.exe" (obj-1)');
    expect((err as Error).message).toContain(join(work, "no", "such", "dir"));
    expect(existsSync(join(work, "no"))).toBe(false);
  });

  it("downloadToFile() of a missing object leaves no partial file", async () => {
    const r = new RemoteResource(marker(), storage);
    await expect(r.downloadToFile(join(work, "f"))).rejects.toMatchObject({ code: "RESOURCE_NOT_FOUND" });
    expect(await readdir(work)).toEqual([]);
  });

  it("downloadToFile() whose source fails midway removes the partial file and keeps the old one", async () => {
    const path = join(work, "keep.bin");
    await writeFile(path, "previous");
    const failing = {
      async getObjectStream(): Promise<Readable> {
        let sent = false;
        return new Readable({
          read() {
            if (!sent) {
              sent = true;
              this.push(Buffer.alloc(1000, 1));
            } else this.destroy(new Error("connection reset mid-body"));
          },
        });
      },
      async putObject(): Promise<void> {},
    };
    const r = new RemoteResource(marker(), failing);
    await expect(r.downloadToFile(path)).rejects.toThrow("connection reset mid-body");
    expect(await readdir(work)).toEqual(["keep.bin"]);
    expect(await readFile(path, "utf8")).toBe("previous");
  });

  it("downloadTemporaryFile() gives a path, removes it afterwards and returns fn's value", async () => {
    storage.set("karton", "obj-1", "temporary");
    const r = new RemoteResource(marker(), storage);
    let seen = "";
    const result = await r.downloadTemporaryFile(
      async (path) => {
        seen = path;
        expect((await stat(path)).isFile()).toBe(true);
        return readFile(path, "utf8");
      },
      { suffix: ".exe" },
    );
    expect(result).toBe("temporary");
    expect(seen.endsWith(".exe")).toBe(true);
    expect(existsSync(seen)).toBe(false);
  });

  it("downloadTemporaryFile() removes the file when fn throws", async () => {
    storage.set("karton", "obj-1", "temporary");
    const r = new RemoteResource(marker(), storage);
    let seen = "";
    await expect(
      r.downloadTemporaryFile((path) => {
        seen = path;
        throw new Error("analysis failed");
      }),
    ).rejects.toThrow("analysis failed");
    expect(seen).not.toBe("");
    expect(existsSync(seen)).toBe(false);
  });

  it("downloadTemporaryFile() refuses a suffix with separators", async () => {
    const r = new RemoteResource(marker(), storage);
    await expect(r.downloadTemporaryFile(() => 1, { suffix: "/../x" })).rejects.toThrow(RangeError);
  });
});

describe("RemoteResource as zip", () => {
  it("zipFile() lists and reads entries; the temporary download is removed", async () => {
    storage.set("karton", "obj-1", await zipOf({ "a.txt": "alpha", "dir/b.txt": "beta" }));
    const r = new RemoteResource(marker({ flags: ["Directory"] }), storage);
    const out = await r.zipFile(async (zip) => ({
      names: zip.names(),
      a: (await zip.read("a.txt")).toString(),
      b: zip.getEntry("dir/b.txt"),
    }));
    expect(out.names).toEqual(["a.txt", "dir/b.txt"]);
    expect(out.a).toBe("alpha");
    expect(out.b).toMatchObject({ name: "dir/b.txt", size: 4, method: 8, isDirectory: false });
    expect(r.loaded).toBe(false);
  });

  it("zipFile() read of an unknown entry: ZIP_ENTRY_NOT_FOUND", async () => {
    storage.set("karton", "obj-1", await zipOf({ "a.txt": "alpha" }));
    const r = new RemoteResource(marker(), storage);
    await expect(r.zipFile((zip) => zip.read("nope.txt"))).rejects.toMatchObject({
      code: "ZIP_ENTRY_NOT_FOUND",
      entry: "nope.txt",
      message: expect.stringContaining('"nope.txt"'),
    });
  });

  it("zipFile() uses the in-memory content when loaded (no second download)", async () => {
    storage.set("karton", "obj-1", await zipOf({ "a.txt": "alpha" }));
    const r = new RemoteResource(marker(), storage);
    await r.download();
    expect(await r.zipFile((zip) => zip.names())).toEqual(["a.txt"]);
    await r.extractTemporary(async (dir) => {
      expect(await readFile(join(dir, "a.txt"), "utf8")).toBe("alpha");
    });
    expect(storage.gets).toHaveLength(1);
  });

  it("content that is not a zip: INVALID_RESOURCE naming the resource", async () => {
    storage.set("karton", "obj-1", "definitely not a zip file");
    const r = new RemoteResource(marker(), storage);
    await expect(r.zipFile((zip) => zip.names())).rejects.toMatchObject({
      code: "INVALID_RESOURCE",
      message: expect.stringContaining('resource "sample.exe" (obj-1) is not a readable zip'),
    });
    await expect(r.extractTemporary(() => 1)).rejects.toMatchObject({ code: "INVALID_RESOURCE" });
  });

  it("extractTemporary() removes the directory afterwards, also when fn throws", async () => {
    storage.set("karton", "obj-1", await zipOf({ "x/y/z.txt": "deep" }));
    const r = new RemoteResource(marker(), storage);
    let seen = "";
    expect(
      await r.extractTemporary(async (dir) => {
        seen = dir;
        return readFile(join(dir, "x", "y", "z.txt"), "utf8");
      }),
    ).toBe("deep");
    expect(existsSync(seen)).toBe(false);

    await expect(
      r.extractTemporary((dir) => {
        seen = dir;
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(existsSync(seen)).toBe(false);
  });

  it("extractToDirectory() creates the target and writes the files", async () => {
    storage.set("karton", "obj-1", await zipOf({ "one.txt": "1", "sub/two.txt": "22" }));
    const r = new RemoteResource(marker(), storage);
    const target = join(work, "new", "target");
    await r.extractToDirectory(target);
    expect(await readFile(join(target, "one.txt"), "utf8")).toBe("1");
    expect(await readFile(join(target, "sub", "two.txt"), "utf8")).toBe("22");
  });

  it("local resources offer the same zip API over their own bytes/file", async () => {
    const local = LocalResource.fromBytes("z.zip", await zipOf({ "in.txt": "local" }));
    expect(await local.zipFile((zip) => zip.read("in.txt").then(String))).toBe("local");
  });
});

describe("resources in tasks", () => {
  it("a RemoteResource in an outgoing task (at any depth) is passed by reference, never re-uploaded", () => {
    const remote = new RemoteResource(marker({ sha256: "a".repeat(64), size: 3 }), storage);
    const local = LocalResource.fromBytes("new.bin", "new");
    const task = new Task(
      { type: "sample" },
      {
        payload: { parent: remote, list: [remote, { deeper: [local] }] },
        payloadPersistent: { p: [remote] },
      },
    );
    expect(task.localResources()).toEqual([local]);
    expect([...task.iterateResources()]).toHaveLength(4);
    expect(remote.toJSON()).toEqual({
      __karton_resource__: {
        bucket: "karton",
        flags: [],
        metadata: { sha256: "a".repeat(64) },
        name: "sample.exe",
        sha256: "a".repeat(64),
        size: 3,
        uid: "obj-1",
      },
    });
  });
});
