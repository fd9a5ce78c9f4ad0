import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalResource, RemoteResource, ResourceError, type ZipEntryInfo } from "../../src/resource/index.js";
import { readFixtureBytes, readFixtureText } from "../helpers/fixtures.js";
import { MemoryObjectStorage } from "../helpers/memory-object-storage.js";

const sha = (data: string | Uint8Array): string => createHash("sha256").update(data).digest("hex");

interface ListingEntry {
  filename: string;
  file_size: number;
  compress_size: number;
  compress_type: number;
  date_time: string;
  CRC: number;
  external_attr: number;
  content_sha256: string;
}
interface Listing {
  zip_len: number;
  zip_sha256: string;
  source_directory_tree: {
    files: Record<string, { len: number; sha256: string }>;
    empty_directories: string[];
  };
  entries_in_archive_order: ListingEntry[];
}
const listing = JSON.parse(readFixtureText("s3/directory-resource-zip-listing.json")) as Listing;
const fixtureZip = readFixtureBytes("s3/directory-resource.zip");
const task10Marker = (
  JSON.parse(readFixtureText("tasks/10-directory-resource.json")) as {
    tasks: { parsed: { payload: { dumps: { __karton_resource__: Record<string, unknown> } } } }[];
  }
).tasks[0]!.parsed.payload.dumps.__karton_resource__;

const README = "top-level file\n";
const DATA = Buffer.from(Array.from({ length: 256 }, (_, i) => i % 64));
/** 2024-01-02 03:04:06 in local time: the DOS timestamp stores local time, like Python's zipfile. */
const MTIME = new Date(2024, 0, 2, 3, 4, 6);

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "resource-dir-test-"));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** The source tree of the fixture: readme.txt, sub/data.bin, sub/deeper/empty.txt, emptydir/. */
async function buildFixtureTree(root: string): Promise<void> {
  await mkdir(join(root, "sub", "deeper"), { recursive: true });
  await mkdir(join(root, "emptydir"));
  const files: [string, string | Buffer][] = [
    ["readme.txt", README],
    ["sub/data.bin", DATA],
    ["sub/deeper/empty.txt", ""],
  ];
  for (const [name, content] of files) {
    const path = join(root, name);
    await writeFile(path, content);
    await chmod(path, 0o644);
    await utimes(path, MTIME, MTIME);
  }
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}
function dosDateTime(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

describe("LocalResource.fromDirectory", () => {
  it("zips the tree like Python's from_directory (entries, names, method, sizes, CRC, mode, time)", async () => {
    const root = join(work, "dumps");
    await buildFixtureTree(root);
    const r = await LocalResource.fromDirectory("dumps", root, { bucket: "karton-fixtures" });
    expect(r.flags).toEqual(["Directory"]);
    expect(r.isDirectory).toBe(true);

    const zipBytes = await r.content();
    expect(r.size).toBe(zipBytes.length);
    expect(r.sha256).toBe(sha(zipBytes));

    const entries = await r.zipFile((zip) => zip.entries.map((e) => ({ ...e })));
    const expected = listing.entries_in_archive_order;
    expect(entries.map((e) => e.name)).toEqual(expected.map((e) => e.filename));
    expect(entries.some((e) => e.isDirectory)).toBe(false); // no directory entries, emptydir dropped
    entries.forEach((entry: ZipEntryInfo, i) => {
      const want = expected[i]!;
      expect(entry.method).toBe(want.compress_type); // 8 (deflated), including the empty file
      expect(entry.size).toBe(want.file_size);
      expect(entry.crc32).toBe(want.CRC);
      expect(entry.mode).toBe(want.external_attr >>> 16); // 0o100644
      expect(entry.isSymlink).toBe(false);
      expect(dosDateTime(entry.lastModified)).toBe(want.date_time);
      // Same zlib, same default level (6): the deflate streams come out the same size.
      expect(entry.compressedSize).toBe(want.compress_size);
    });

    const contents = await r.zipFile(async (zip) =>
      Promise.all(zip.names().map(async (name) => [name, sha(await zip.read(name))] as const)),
    );
    expect(Object.fromEntries(contents)).toEqual(
      Object.fromEntries(expected.map((e) => [e.filename, e.content_sha256] as const)),
    );
    for (const [name, file] of Object.entries(listing.source_directory_tree.files)) {
      expect(file.sha256).toBe(sha(name === "readme.txt" ? README : name === "sub/data.bin" ? DATA : ""));
    }
    await r.dispose();
  });

  it("writes the zip to a temp file by default (removed after upload), or to memory with inMemory", async () => {
    const root = join(work, "dumps");
    await buildFixtureTree(root);
    const onDisk = await LocalResource.fromDirectory("dumps", root, { bucket: "b" });
    const source = (onDisk as unknown as { source: { kind: string; path: string } }).source;
    expect(source.kind).toBe("temp");
    expect(existsSync(source.path)).toBe(true);
    const storage = new MemoryObjectStorage();
    await onDisk.upload(storage);
    expect(storage.puts[0]).toMatchObject({ kind: "path", size: onDisk.size });
    expect(existsSync(source.path)).toBe(false);
    expect(sha(storage.get("b", onDisk.uid)!)).toBe(onDisk.sha256);

    const inMemory = await LocalResource.fromDirectory("dumps", root, { bucket: "b", inMemory: true });
    expect((inMemory as unknown as { source: { kind: string } }).source.kind).toBe("bytes");
    await inMemory.upload(storage);
    expect(storage.puts[1]).toMatchObject({ kind: "buffer", size: inMemory.size });
    // Same tree, same options: byte-identical zips either way.
    expect(inMemory.sha256).toBe(onDisk.sha256);
  });

  it("compression 'store' stores entries (method 0)", async () => {
    const root = join(work, "dumps");
    await buildFixtureTree(root);
    const r = await LocalResource.fromDirectory("dumps", root, { compression: "store", inMemory: true });
    const methods = await r.zipFile((zip) => zip.entries.map((e) => [e.method, e.size, e.compressedSize]));
    expect(methods).toEqual([
      [0, 15, 15],
      [0, 256, 256],
      [0, 0, 0],
    ]);
  });

  it("keeps bucket, metadata (merged with sha256) and uid", async () => {
    const root = join(work, "dumps");
    await buildFixtureTree(root);
    const r = await LocalResource.fromDirectory("dumps", root, {
      bucket: "bk",
      metadata: { source: "sandbox" },
      uid: "my-dir-uid",
      inMemory: true,
    });
    expect(r.toJSON()).toEqual({
      __karton_resource__: {
        bucket: "bk",
        flags: ["Directory"],
        metadata: { source: "sandbox", sha256: r.sha256 },
        name: "dumps",
        sha256: r.sha256,
        size: r.size,
        uid: "my-dir-uid",
      },
    });
  });

  it("follows symlinks to files, not to directories; an empty directory gives an empty zip", async () => {
    const root = join(work, "tree");
    await mkdir(join(root, "real"), { recursive: true });
    await writeFile(join(work, "outside.txt"), "outside");
    await writeFile(join(root, "real", "f.txt"), "f");
    await symlink(join(work, "outside.txt"), join(root, "link-to-file"));
    await symlink(join(root, "real"), join(root, "link-to-dir"));
    const r = await LocalResource.fromDirectory("tree", root, { inMemory: true });
    const names = await r.zipFile(async (zip) => [zip.names(), (await zip.read("link-to-file")).toString()]);
    expect(names).toEqual([["link-to-file", "real/f.txt"], "outside"]);

    await mkdir(join(work, "nothing"));
    const empty = await LocalResource.fromDirectory("nothing", join(work, "nothing"), { inMemory: true });
    expect(empty.size).toBe(22); // just the end-of-central-directory record
    expect(await empty.zipFile((zip) => zip.names())).toEqual([]);
  });

  it("reports a missing directory, or a file path, as RESOURCE_SOURCE", async () => {
    const missing = join(work, "nope");
    const err = await LocalResource.fromDirectory("dumps", missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceError);
    expect(err).toMatchObject({ code: "RESOURCE_SOURCE" });
    expect((err as Error).message).toContain('resource "dumps"');
    expect((err as Error).message).toContain(missing);
    await writeFile(join(work, "file"), "x");
    await expect(LocalResource.fromDirectory("dumps", join(work, "file"))).rejects.toMatchObject({
      code: "RESOURCE_SOURCE",
    });
  });
});

describe("the Python fixture zip (s3/directory-resource.zip)", () => {
  function remoteFixture(storage: MemoryObjectStorage): RemoteResource {
    storage.set("karton-fixtures", task10Marker.uid as string, fixtureZip);
    return new RemoteResource(
      {
        uid: task10Marker.uid as string,
        name: "dumps",
        bucket: "karton-fixtures",
        size: task10Marker.size as number,
        sha256: task10Marker.sha256 as string,
        metadata: {},
        flags: ["Directory"],
      },
      storage,
    );
  }

  it("has the sha256 and size of the resource in tasks/10", () => {
    expect(fixtureZip.length).toBe(listing.zip_len);
    expect(sha(fixtureZip)).toBe(task10Marker.sha256);
    expect(sha(fixtureZip)).toBe(listing.zip_sha256);
    expect(fixtureZip.length).toBe(task10Marker.size);
  });

  it("reads through zipFile(): names, metadata and contents", async () => {
    const r = remoteFixture(new MemoryObjectStorage());
    const result = await r.zipFile(async (zip) => ({
      names: zip.names(),
      has: zip.has("sub/data.bin"),
      readme: (await zip.read("readme.txt")).toString(),
      data: await zip.read("sub/data.bin"),
      empty: await zip.read("sub/deeper/empty.txt"),
      modes: zip.entries.map((e) => e.mode),
      streamed: await new Promise<string>((ok, fail) => {
        zip
          .openStream("readme.txt")
          .then((s) => {
            const chunks: Buffer[] = [];
            s.on("data", (c: Buffer) => chunks.push(c));
            s.on("end", () => ok(Buffer.concat(chunks).toString()));
            s.on("error", fail);
          })
          .catch(fail);
      }),
    }));
    expect(result.names).toEqual(["readme.txt", "sub/data.bin", "sub/deeper/empty.txt"]);
    expect(result.has).toBe(true);
    expect(result.readme).toBe(README);
    expect(result.data.equals(DATA)).toBe(true);
    expect(result.empty.length).toBe(0);
    expect(result.modes).toEqual([0o100644, 0o100644, 0o100644]);
    expect(result.streamed).toBe(README);
  });

  it("extracts through extractTemporary() (directory removed afterwards)", async () => {
    const r = remoteFixture(new MemoryObjectStorage());
    let seen = "";
    const files = await r.extractTemporary(async (dir) => {
      seen = dir;
      const out: Record<string, string> = {};
      const walk = async (d: string): Promise<void> => {
        for (const e of await readdir(d, { withFileTypes: true })) {
          const p = join(d, e.name);
          if (e.isDirectory()) await walk(p);
          else out[relative(dir, p)] = sha(await readFile(p));
        }
      };
      await walk(dir);
      return out;
    });
    expect(files).toEqual({
      "readme.txt": listing.source_directory_tree.files["readme.txt"]!.sha256,
      "sub/data.bin": listing.source_directory_tree.files["sub/data.bin"]!.sha256,
      "sub/deeper/empty.txt": listing.source_directory_tree.files["sub/deeper/empty.txt"]!.sha256,
    });
    expect(seen).not.toBe("");
    expect(existsSync(seen)).toBe(false);
  });

  it("round-trips: a directory resource zipped here reads back through a RemoteResource", async () => {
    const root = join(work, "dumps");
    await buildFixtureTree(root);
    const storage = new MemoryObjectStorage();
    const local = await LocalResource.fromDirectory("dumps", root, { bucket: "karton-fixtures" });
    await local.upload(storage);
    const remote = new RemoteResource(
      {
        uid: local.uid,
        name: "dumps",
        bucket: "karton-fixtures",
        size: local.size,
        sha256: local.sha256,
        metadata: {},
        flags: ["Directory"],
      },
      storage,
    );
    const target = join(work, "out");
    await remote.extractToDirectory(target);
    expect(await readFile(join(target, "readme.txt"), "utf8")).toBe(README);
    expect((await readFile(join(target, "sub", "data.bin"))).equals(DATA)).toBe(true);
    expect((await readFile(join(target, "sub", "deeper", "empty.txt"))).length).toBe(0);
    expect(existsSync(join(target, "emptydir"))).toBe(false);
  });
});
