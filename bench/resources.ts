/**
 * Workload 5 — resources: a 1 GiB file sent as a resource from a Producer process to a Consumer
 * process through the real karton-system, against plain AWS SDK PutObject/GetObject of the same
 * file on the same S3 in the same run.
 *
 * - plain SDK: PutObject with the file streamed (ContentLength set), then at once GetObject streamed
 *   to a file; same client settings as karton-ts (path-style, checksums only when required).
 * - both upload → download sequences start after a `sync` (the writeback of earlier files would
 *   land in them).
 * - karton-ts: the producer hashes the file (LocalResource.prepare, timed apart) and sends the task
 *   (Producer.sendTask: document, multipart upload, queueing); the consumer downloads the resource to
 *   a file (Resource.downloadToFile), then checks its sha256 (timed apart).
 * Prints MB/s (10^6 bytes per second) each way, the ratio to the plain SDK, and the peak RSS of the
 * producer, the consumer and karton-system.
 *
 * Options (env): KARTON_BENCH_RUNS (3), KARTON_BENCH_RESOURCE_MB (1024, MiB).
 * Run: npm run build && bash scripts/services.sh run -- node dist/bench/resources.js
 */
import { spawnSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import {
  closeSync,
  createReadStream,
  createWriteStream,
  openSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { pathToFileURL } from "node:url";
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
  S3_CONNECT_TIMEOUT_MS,
  S3_IDLE_TIMEOUT_MS,
  S3ObjectStore,
} from "../src/backend/s3/s3-object-store.js";
import {
  adminRedis,
  DIST,
  NodeChild,
  procFigures,
  purgeDeletedObjects,
  runsWanted,
  type Services,
  scratchDir,
  services,
  startSystem,
  writeIni,
} from "./lib/env.js";
import { report } from "./lib/stats.js";

const BUCKET = "karton-bench-resources";

/** A file of `mib` MiB of random bytes (64 MiB of randomness, repeated). */
function makeFile(dir: string, mib: number): string {
  const path = join(dir, "big.bin");
  const block = Buffer.allocUnsafe(64 * 1024 * 1024);
  randomFillSync(block);
  const fd = openSync(path, "w");
  let left = mib * 1024 * 1024;
  while (left > 0) {
    const n = Math.min(left, block.length);
    writeSync(fd, block, 0, n);
    left -= n;
  }
  closeSync(fd);
  return path;
}

function sdkClient(s: Services): S3Client {
  return new S3Client({
    endpoint: s.s3.address,
    region: "us-east-1",
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    credentials: { accessKeyId: s.s3.accessKey, secretAccessKey: s.s3.secretKey },
    requestHandler: { connectionTimeout: S3_CONNECT_TIMEOUT_MS, socketTimeout: S3_IDLE_TIMEOUT_MS },
  });
}

/**
 * Writes dirty pages back (`sync`) before a timed transfer, so that the writeback of an earlier
 * gigabyte (the file made, a download deleted) does not land in the middle of the next one.
 */
function settleDisk(): void {
  spawnSync("sync", { stdio: "ignore" });
}

/**
 * Plain AWS SDK transfers of the benchmark file: PutObject (streamed from the file with its length)
 * and GetObject (streamed to a file); MB/s.
 */
class PlainSdk {
  readonly #client: S3Client;
  readonly #key = `plain-${Date.now()}`;

  constructor(
    readonly s: Services,
    readonly file: string,
    readonly dir: string,
  ) {
    this.#client = sdkClient(s);
  }

  async put(): Promise<number> {
    settleDisk();
    const size = statSync(this.file).size;
    const t0 = performance.now();
    await this.#client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: this.#key,
        Body: createReadStream(this.file),
        ContentLength: size,
      }),
    );
    return size / 1e6 / ((performance.now() - t0) / 1000);
  }

  async get(): Promise<number> {
    const t0 = performance.now();
    const out = await this.#client.send(new GetObjectCommand({ Bucket: BUCKET, Key: this.#key }));
    const target = join(this.dir, "plain-download.bin");
    await pipeline(out.Body as Readable, createWriteStream(target));
    const seconds = (performance.now() - t0) / 1000;
    const size = statSync(target).size;
    rmSync(target, { force: true });
    return size / 1e6 / seconds;
  }

  async close(): Promise<void> {
    await this.#client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: this.#key }));
    this.#client.destroy();
  }
}

export interface ResourceFigures extends Record<string, number> {
  sdkPutMBps: number;
  uploadMBps: number;
  uploadRatio: number;
  hashMBps: number;
  sdkGetMBps: number;
  downloadMBps: number;
  downloadRatio: number;
  verified: number;
  producerRssMb: number;
  consumerRssMb: number;
  systemRssMb: number;
}

export async function resourcesRun(mib: number): Promise<ResourceFigures> {
  const s = services();
  const redis = adminRedis(s);
  await redis.flushdb();
  const objects = new S3ObjectStore({
    address: s.s3.address,
    accessKey: s.s3.accessKey,
    secretKey: s.s3.secretKey,
  });
  if (!(await objects.bucketExists(BUCKET))) await objects.createBucket(BUCKET);
  const dir = scratchDir("resources");
  const file = makeFile(dir, mib);
  const size = statSync(file).size;
  // The GET right after the PUT, as the consumer downloads right after the producer's upload (the
  // gateway is slower for a few seconds after taking a gigabyte).
  const plain = new PlainSdk(s, file, dir);
  const sdkPutMBps = await plain.put();
  const sdkGetMBps = await plain.get();
  // Gone before karton-ts' turn, so that both sequences run against the same store contents.
  await plain.close();
  purgeDeletedObjects(s);

  const ini = writeIni(dir, s, { bucket: BUCKET });
  const system = await startSystem(ini, ["--disable-gc"]);
  const consumer = new NodeChild([join(DIST, "bench", "lib", "resource-consumer.js"), "--config-file", ini], {
    env: { BENCH_DOWNLOAD_DIR: dir },
  });
  await consumer.waitFor(/Binding on/);
  settleDisk();
  const producer = new NodeChild([join(DIST, "bench", "lib", "resource-producer.js"), ini, file]);
  const sent = JSON.parse(await producer.waitFor(/^\{/, 600_000)) as {
    hashSeconds: number;
    uploadSeconds: number;
    uid: string;
    peakRssMb: number;
  };
  const got = JSON.parse((await consumer.waitFor(/^RESULT /, 600_000)).slice("RESULT ".length)) as {
    downloadSeconds: number;
    checkSeconds: number;
    verified: boolean;
    peakRssMb: number;
  };
  const systemRss = procFigures(system.pid)?.peakRssMb ?? Number.NaN;
  await consumer.stop();
  await system.stop();
  await objects.deleteObjects(BUCKET, [{ key: sent.uid }]);
  objects.close();
  redis.disconnect();
  rmSync(file, { force: true });
  purgeDeletedObjects(s);
  const uploadMBps = size / 1e6 / sent.uploadSeconds;
  const downloadMBps = size / 1e6 / got.downloadSeconds;
  return {
    sdkPutMBps,
    uploadMBps,
    uploadRatio: uploadMBps / sdkPutMBps,
    hashMBps: size / 1e6 / sent.hashSeconds,
    sdkGetMBps,
    downloadMBps,
    downloadRatio: downloadMBps / sdkGetMBps,
    verified: got.verified ? 1 : 0,
    producerRssMb: sent.peakRssMb,
    consumerRssMb: got.peakRssMb,
    systemRssMb: systemRss,
  };
}

export async function resources(runs: number, mib: number): Promise<ResourceFigures> {
  const results: ResourceFigures[] = [];
  for (let r = 0; r < runs; r++) results.push(await resourcesRun(mib));
  return report(
    `Resources: a ${mib} MiB file, Producer → Consumer vs plain AWS SDK PutObject/GetObject (MB/s)`,
    [
      { key: "sdkPutMBps", label: "SDK PUT" },
      { key: "uploadMBps", label: "upload" },
      { key: "uploadRatio", label: "upload/PUT", digits: 2 },
      { key: "hashMBps", label: "sha256 (before upload)" },
      { key: "sdkGetMBps", label: "SDK GET" },
      { key: "downloadMBps", label: "download" },
      { key: "downloadRatio", label: "download/GET", digits: 2 },
      { key: "verified", label: "sha256 ok", digits: 0 },
      { key: "producerRssMb", label: "producer RSS MB", digits: 0 },
      { key: "consumerRssMb", label: "consumer RSS MB", digits: 0 },
      { key: "systemRssMb", label: "system RSS MB", digits: 0 },
    ],
    results,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await resources(runsWanted(3), Number(process.env.KARTON_BENCH_RESOURCE_MB ?? 1024));
  process.exit(0);
}
