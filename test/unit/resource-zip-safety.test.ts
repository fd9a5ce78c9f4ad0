import { existsSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateRawSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  BUILTIN_EXTRACT_LIMITS,
  extractDefaults,
  RemoteResource,
  ResourceError,
  resolveExtractLimits,
  safeEntrySegments,
} from "../../src/resource/index.js";
import { MemoryObjectStorage } from "../helpers/memory-object-storage.js";
import { rawZip, yazlZip } from "../helpers/zip.js";

// ---- fixtures -------------------------------------------------------------------------------------

let work: string;
let storage: MemoryObjectStorage;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "resource-zip-safety-"));
  storage = new MemoryObjectStorage();
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

function resourceOf(zip: Buffer, name = "evil.zip"): RemoteResource {
  const uid = `uid-${name}`;
  storage.set("karton", uid, zip);
  return new RemoteResource(
    { uid, name, bucket: "karton", size: zip.length, sha256: null, metadata: {}, flags: ["Directory"] },
    storage,
  );
}

async function extractError(
  resource: RemoteResource,
  options?: Parameters<RemoteResource["extractToDirectory"]>[1],
) {
  const target = join(work, "target");
  const err = await resource.extractToDirectory(target, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ResourceError);
  return { err: err as ResourceError, target };
}

/** Every file under `dir`, relative. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => !d.isDirectory())
    .map((d) => join(d.parentPath ?? d.path, d.name).slice(dir.length + 1))
    .sort();
}

// ---- tests ----------------------------------------------------------------------------------------

describe("unsafe entry names", () => {
  const cases: [string, string][] = [
    ["../evil", "climbs out of the target directory"],
    ["a/../../evil", "climbs out of the target directory"],
    ["/abs/path", "is an absolute path"],
    ["C:\\evil", "starts with a drive letter"],
    ["C:/evil", "starts with a drive letter"],
    ["..\\evil", "climbs out of the target directory"],
    ["sub\\..\\..\\evil", "climbs out of the target directory"],
    ["\\\\server\\share\\evil", "is an absolute path"],
  ];
  for (const [name, reason] of cases) {
    it(`refuses ${JSON.stringify(name)} (UNSAFE_ZIP_ENTRY), writing nothing`, async () => {
      const r = resourceOf(
        rawZip([
          { name: "fine.txt", data: Buffer.from("ok") },
          { name, data: Buffer.from("pwned") },
        ]),
      );
      const { err, target } = await extractError(r);
      expect(err.code).toBe("UNSAFE_ZIP_ENTRY");
      expect(err.entry).toBe(name);
      expect(err.resource).toBe("evil.zip");
      expect(err.uid).toBe("uid-evil.zip");
      expect(err.message).toContain('resource "evil.zip" (uid-evil.zip)');
      expect(err.message).toContain(`zip entry ${JSON.stringify(name)}`);
      expect(err.message).toContain(reason);
      // The whole archive is checked before anything is written.
      expect(filesUnder(target)).toEqual([]);
      expect(filesUnder(work)).toEqual([]);
    });
  }

  it("extractTemporary refuses too, and removes its directory", async () => {
    const r = resourceOf(rawZip([{ name: "../evil", data: Buffer.from("x") }]));
    const privateTmp = join(work, "tmp");
    await mkdir(privateTmp);
    const savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = privateTmp; // os.tmpdir() reads it on every call
    let called = false;
    try {
      const err = await r
        .extractTemporary(() => {
          called = true;
        })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "UNSAFE_ZIP_ENTRY", entry: "../evil" });
    } finally {
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
    }
    expect(called).toBe(false);
    expect(readdirSync(privateTmp)).toEqual([]);
  });

  it("accepts '..' that stays inside ('a/../b' is 'b') and backslash separators", async () => {
    const r = resourceOf(
      rawZip([
        { name: "a/../b.txt", data: Buffer.from("b") },
        { name: "dir\\file.txt", data: Buffer.from("f") },
        { name: "./dot.txt", data: Buffer.from("d") },
      ]),
    );
    const target = join(work, "ok");
    await r.extractToDirectory(target);
    expect(filesUnder(target)).toEqual(["b.txt", "dir/file.txt", "dot.txt"]);
  });

  it("safeEntrySegments normalises and explains", () => {
    expect(safeEntrySegments("a/./b//c")).toEqual({ segments: ["a", "b", "c"] });
    expect(safeEntrySegments("a\\b")).toEqual({ segments: ["a", "b"] });
    expect(safeEntrySegments("x/../../y")).toEqual({ reason: expect.stringContaining("..") });
    expect(safeEntrySegments("d:rel")).toEqual({ reason: "starts with a drive letter" });
    expect(safeEntrySegments("nul\0byte")).toEqual({ reason: "contains a NUL character" });
  });
});

describe("symbolic links", () => {
  it("refuses a symlink entry (Unix mode S_IFLNK) built with yazl", async () => {
    const zip = await yazlZip((z) => {
      z.addBuffer(Buffer.from("fine"), "fine.txt");
      z.addBuffer(Buffer.from("/etc/passwd"), "link", { mode: 0o120777 });
    });
    const r = resourceOf(zip, "links.zip");
    const { err, target } = await extractError(r);
    expect(err.code).toBe("UNSAFE_ZIP_ENTRY");
    expect(err.entry).toBe("link");
    expect(err.message).toContain(
      'resource "links.zip" (uid-links.zip): zip entry "link" is a symbolic link',
    );
    expect(filesUnder(target)).toEqual([]);
  });

  it("zipFile() still lists it, flagged, and can read its bytes (the link text)", async () => {
    const zip = await yazlZip((z) => z.addBuffer(Buffer.from("../../target"), "link", { mode: 0o120777 }));
    const r = resourceOf(zip);
    const info = await r.zipFile(async (z) => ({
      entry: z.getEntry("link"),
      text: String(await z.read("link")),
    }));
    expect(info.entry).toMatchObject({ isSymlink: true, mode: 0o120777 });
    expect(info.text).toBe("../../target");
  });

  it("never writes through a symlinked directory already in the target", async () => {
    const outside = join(work, "outside");
    const target = join(work, "target");
    await mkdir(outside);
    await mkdir(target);
    await symlink(outside, join(target, "sub"));
    const r = resourceOf(rawZip([{ name: "sub/planted.txt", data: Buffer.from("x") }]));
    const err = await r.extractToDirectory(target).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "UNSAFE_ZIP_ENTRY", entry: "sub/planted.txt" });
    expect(filesUnder(outside)).toEqual([]);
  });

  it("never writes through a symlinked file already in the target", async () => {
    const target = join(work, "target");
    await mkdir(target);
    const victim = join(work, "victim.txt");
    await writeFile(victim, "original");
    await symlink(victim, join(target, "file.txt"));
    const r = resourceOf(rawZip([{ name: "file.txt", data: Buffer.from("overwritten") }]));
    await expect(r.extractToDirectory(target)).rejects.toMatchObject({ code: "RESOURCE_DESTINATION" });
    expect(await readFile(victim, "utf8")).toBe("original");
  });
});

describe("zip bomb limits", () => {
  const MB = 1024 * 1024;
  let bomb: Buffer;
  beforeEach(async () => {
    bomb ??= await yazlZip((z) => z.addBuffer(Buffer.alloc(50 * MB), "zeros.bin"));
  });

  it("the test bomb is small on the wire", () => {
    expect(bomb.length).toBeLessThan(100_000);
  });

  it("maxTotalBytes: 50 MB of zeros with a 10 MB limit", async () => {
    const r = resourceOf(bomb, "bomb.zip");
    const { err, target } = await extractError(r, { maxTotalBytes: 10 * MB });
    expect(err.code).toBe("ZIP_LIMIT_EXCEEDED");
    expect(err.limit).toBe("maxTotalBytes");
    expect(err.entry).toBe("zeros.bin");
    expect(err.message).toContain('resource "bomb.zip" (uid-bomb.zip): zip entry "zeros.bin"');
    expect(err.message).toContain(`maxTotalBytes=${10 * MB}`);
    expect(filesUnder(target)).toEqual([]);
  });

  it("maxRatio: the same bomb under the default limits (ratio ~1000 > 200)", async () => {
    const r = resourceOf(bomb, "bomb.zip");
    const { err } = await extractError(r);
    expect(err.code).toBe("ZIP_LIMIT_EXCEEDED");
    expect(err.limit).toBe("maxRatio");
    expect(err.entry).toBe("zeros.bin");
    expect(err.message).toContain("maxRatio=200");
  });

  it("extracts it when the limits allow", async () => {
    const r = resourceOf(bomb, "bomb.zip");
    const target = join(work, "allowed");
    await r.extractToDirectory(target, { maxRatio: Number.POSITIVE_INFINITY });
    expect((await readFile(join(target, "zeros.bin"))).length).toBe(50 * MB);
  });

  it("counts ACTUAL inflated bytes: a header that understates the size is caught while inflating", async () => {
    const liar = rawZip([{ name: "small.txt", data: Buffer.alloc(50 * MB), declaredSize: 1000 }]);
    const r = resourceOf(liar, "liar.zip");
    const { err, target } = await extractError(r, { maxTotalBytes: 10 * MB });
    expect(err.code).toBe("ZIP_LIMIT_EXCEEDED");
    expect(err.entry).toBe("small.txt");
    expect(err.limit).toBe("declaredSize");
    expect(err.message).toContain("more than its declared size of 1000 bytes");
    expect(filesUnder(target)).toEqual([]); // the partial file is removed
  });

  it("counts ACTUAL bytes while streaming an entry through zipFile()", async () => {
    const r = resourceOf(bomb, "bomb.zip");
    let received = 0;
    const err = await r
      .zipFile(
        async (zip) => {
          for await (const chunk of await zip.openStream("zeros.bin")) received += (chunk as Buffer).length;
        },
        { maxTotalBytes: 10 * MB, maxRatio: Number.POSITIVE_INFINITY },
      )
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "ZIP_LIMIT_EXCEEDED", limit: "maxTotalBytes", entry: "zeros.bin" });
    expect(received).toBeLessThanOrEqual(10 * MB);
    expect(received).toBeGreaterThan(5 * MB);
  });

  it("the ratio is checked on actual bytes while inflating (header sized to pass the pre-check)", async () => {
    const data = Buffer.alloc(20 * MB);
    const compressed = deflateRawSync(data).length;
    // Declared ratio exactly 200: passes the up-front check; the real data goes far beyond.
    const liar = rawZip([{ name: "z.bin", data, declaredSize: 200 * compressed }]);
    const { err, target } = await extractError(resourceOf(liar));
    expect(err.code).toBe("ZIP_LIMIT_EXCEEDED");
    expect(err.limit).toBe("maxRatio");
    expect(err.entry).toBe("z.bin");
    expect(filesUnder(target)).toEqual([]);
  });

  it("maxEntries: too many entries, naming the first one over the limit", async () => {
    const zip = await yazlZip((z) => {
      for (let i = 0; i < 25; i++) z.addBuffer(Buffer.from(String(i)), `f${i}.txt`);
    });
    const r = resourceOf(zip, "many.zip");
    const { err, target } = await extractError(r, { maxEntries: 20 });
    expect(err.code).toBe("ZIP_LIMIT_EXCEEDED");
    expect(err.limit).toBe("maxEntries");
    expect(err.entry).toBe("f20.txt");
    expect(err.message).toContain("maxEntries=20");
    expect(err.message).toContain('"f20.txt"');
    expect(filesUnder(target)).toEqual([]);
    await expect(r.zipFile((z) => z.names(), { maxEntries: 20 })).rejects.toMatchObject({
      limit: "maxEntries",
    });
    await r.extractToDirectory(join(work, "fits"), { maxEntries: 25 });
    expect(filesUnder(join(work, "fits"))).toHaveLength(25);
  });

  it("small, very compressible files stay extractable under the default ratio (threshold 1 MiB)", async () => {
    const zip = await yazlZip((z) => z.addBuffer(Buffer.alloc(512 * 1024), "sparse.bin"));
    const r = resourceOf(zip);
    await r.extractToDirectory(join(work, "sparse"));
    expect((await readFile(join(work, "sparse", "sparse.bin"))).length).toBe(512 * 1024);
  });
});

describe("integrity and options", () => {
  it("a CRC mismatch is INVALID_RESOURCE and leaves no file", async () => {
    const r = resourceOf(rawZip([{ name: "bad.txt", data: Buffer.from("payload"), crc: 1234 }]), "crc.zip");
    const { err, target } = await extractError(r);
    expect(err.code).toBe("INVALID_RESOURCE");
    expect(err.message).toContain('zip entry "bad.txt" is corrupt: CRC-32 mismatch');
    expect(filesUnder(target)).toEqual([]);
  });

  it("an overstated size is INVALID_RESOURCE (truncated entry)", async () => {
    const r = resourceOf(
      rawZip([{ name: "short.txt", data: Buffer.from("abc"), method: 8, declaredSize: 10 }]),
    );
    const { err } = await extractError(r);
    expect(err.code).toBe("INVALID_RESOURCE");
    expect(err.message).toContain("3 bytes instead of the declared 10");
  });

  it("stored entries extract", async () => {
    const r = resourceOf(rawZip([{ name: "s.txt", data: Buffer.from("stored"), method: 0 }]));
    await r.extractToDirectory(join(work, "s"));
    expect(await readFile(join(work, "s", "s.txt"), "utf8")).toBe("stored");
  });

  it("limits resolve from explicit options over extractDefaults; bad values are refused", () => {
    expect(BUILTIN_EXTRACT_LIMITS).toEqual({
      maxTotalBytes: 1024 ** 3,
      maxEntries: 10_000,
      maxRatio: 200,
      ratioThresholdBytes: 1024 ** 2,
    });
    expect(Object.isFrozen(BUILTIN_EXTRACT_LIMITS)).toBe(true);
    expect(resolveExtractLimits({ maxEntries: 5 })).toEqual({ ...BUILTIN_EXTRACT_LIMITS, maxEntries: 5 });
    expect(() => resolveExtractLimits({ maxRatio: -1 })).toThrow(RangeError);
    expect(() => resolveExtractLimits({ maxTotalBytes: Number.NaN })).toThrow(RangeError);
  });

  it("extractDefaults is the documented process-wide default", async () => {
    const saved = { ...extractDefaults };
    try {
      extractDefaults.maxEntries = 1;
      const zip = await yazlZip((z) => {
        z.addBuffer(Buffer.from("1"), "1");
        z.addBuffer(Buffer.from("2"), "2");
      });
      const { err } = await extractError(resourceOf(zip));
      expect(err).toMatchObject({ code: "ZIP_LIMIT_EXCEEDED", limit: "maxEntries" });
    } finally {
      Object.assign(extractDefaults, saved);
    }
    expect(extractDefaults).toEqual(BUILTIN_EXTRACT_LIMITS);
  });
});
