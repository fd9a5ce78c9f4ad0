/**
 * Memory-bound checks for multi-GB resources: a 1 GiB file is hashed (prepare) and uploaded to a
 * storage that keeps only size + sha256, a 512 MiB stream is spooled, and a 512 MiB remote object
 * is downloaded to a file. Peak RSS must grow by less than ~150 MB. Slow-ish (disk I/O), so it
 * lives apart from the unit tests.
 */
import { createHash } from "node:crypto";
import { mkdtemp, open, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  LocalResource,
  type ObjectStorage,
  RemoteResource,
  ResourceError,
} from "../../src/resource/index.js";
import { NullSinkStorage } from "../helpers/memory-object-storage.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const RSS_BUDGET = 150 * 1000 * 1000;
/** sha256 of 1 GiB of zero bytes (`head -c 1073741824 /dev/zero | sha256sum`). */
const SHA256_1GIB_ZEROS = "49bc20df15e412a64472421e13fe86ff1c5165e18b2afccf160d4dc19fe68a14";

/** Samples RSS every 20 ms while `fn` runs; returns peak growth over the starting RSS. */
async function measure<T>(label: string, fn: () => Promise<T>): Promise<T> {
  (globalThis as { gc?: () => void }).gc?.();
  const startRss = process.memoryUsage().rss;
  const startMaxRss = process.resourceUsage().maxRSS * 1024;
  let peak = startRss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const began = performance.now();
  try {
    return await fn();
  } finally {
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage().rss);
    const maxRssGrowth = Math.max(0, process.resourceUsage().maxRSS * 1024 - startMaxRss);
    const growth = peak - startRss;
    const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
    console.log(
      `[resource-large] ${label}: sampled RSS peak growth ${mb(growth)} (start ${mb(startRss)}), ` +
        `maxRSS growth ${mb(maxRssGrowth)}, ${((performance.now() - began) / 1000).toFixed(1)} s`,
    );
    expect(growth).toBeLessThan(RSS_BUDGET);
    expect(maxRssGrowth).toBeLessThan(RSS_BUDGET);
  }
}

/** Serves `size` bytes of a repeating pattern for any key, generated on the fly. */
class GeneratedStorage implements ObjectStorage {
  constructor(private readonly size: number) {}
  async getObjectStream(): Promise<Readable> {
    const size = this.size;
    const block = Buffer.alloc(MiB, 0x5a);
    return Readable.from(
      (function* () {
        for (let sent = 0; sent < size; sent += block.length)
          yield block.subarray(0, Math.min(block.length, size - sent));
      })(),
      { objectMode: false },
    );
  }
  async putObject(): Promise<void> {
    throw new Error("read-only");
  }
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "resource-large-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("large resources stay memory-bound", () => {
  it("1 GiB file: prepare (hash) and upload stream from disk", { timeout: 300_000 }, async () => {
    const path = join(work, "big.bin");
    const handle = await open(path, "w");
    await handle.truncate(GiB); // sparse: instant to create, reads back as zeros
    await handle.close();
    expect((await stat(path)).size).toBe(GiB);

    const resource = LocalResource.fromFile("big.bin", path, { bucket: "karton" });
    const sink = new NullSinkStorage();
    await measure("1 GiB file prepare+upload", async () => {
      await resource.prepare();
      await resource.upload(sink);
    });
    expect(resource.size).toBe(GiB);
    expect(resource.sha256).toBe(SHA256_1GIB_ZEROS);
    expect(sink.received.get(`karton/${resource.uid}`)).toEqual({
      size: GiB,
      sha256: SHA256_1GIB_ZEROS,
      declaredSize: GiB,
      kind: "path",
    });
  });

  it("512 MiB stream of unknown length: spooled while hashing, uploaded, temp file removed", {
    timeout: 300_000,
  }, async () => {
    const total = 512 * MiB;
    const block = Buffer.alloc(MiB, 0x41);
    const expected = createHash("sha256");
    for (let i = 0; i < total / MiB; i++) expected.update(block);
    const expectedSha = expected.digest("hex");

    const source = Readable.from(
      (function* () {
        for (let i = 0; i < total / MiB; i++) yield block;
      })(),
      { objectMode: false },
    );
    const sink = new NullSinkStorage();
    const resource = await measure("512 MiB stream spool+upload", async () => {
      const r = await LocalResource.fromStream("stream.bin", source, { bucket: "karton" });
      await r.upload(sink);
      return r;
    });
    expect(resource.size).toBe(total);
    expect(resource.sha256).toBe(expectedSha);
    expect(sink.received.get(`karton/${resource.uid}`)).toMatchObject({ size: total, sha256: expectedSha });
    expect(resource.disposed).toBe(true);
    await expect(resource.content()).rejects.toBeInstanceOf(ResourceError);
  });

  it("512 MiB remote object: downloadToFile streams to disk", { timeout: 300_000 }, async () => {
    const total = 512 * MiB;
    const remote = new RemoteResource(
      { uid: "big", name: "big.bin", bucket: "karton", size: total, sha256: null, metadata: {}, flags: [] },
      new GeneratedStorage(total),
    );
    const path = join(work, "downloaded.bin");
    await measure("512 MiB downloadToFile", () => remote.downloadToFile(path));
    expect((await stat(path)).size).toBe(total);
    expect(remote.loaded).toBe(false);
  });
});
