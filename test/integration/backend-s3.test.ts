/**
 * S3ObjectStore against the real S3 server (Ceph RGW): credentials (static, IAM chain with
 * fall-back, AWS_* environment), clear errors without secrets, multipart streaming uploads.
 */
import { randomBytes } from "node:crypto";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3ObjectStore } from "../../src/backend/s3/s3-object-store.js";
import { testServices, uniqueName } from "../helpers/services.js";

const services = testServices();
const keys = {
  address: services.s3.address,
  accessKey: services.s3.accessKey,
  secretKey: services.s3.secretKey,
};
const bucket = uniqueName("s3store");
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
});

describe("S3ObjectStore credentials", () => {
  it("with iam_auth falls back to the keys when the credential chain finds nothing", async () => {
    const s = store({
      ...keys,
      iamAuth: true,
      credentialChain: async () => {
        throw new Error("no IAM here");
      },
    });
    expect(await s.bucketExists(bucket)).toBe(true);
  });

  it("with iam_auth and no keys reports that no credentials were found", async () => {
    const s = store({
      address: keys.address,
      iamAuth: true,
      env: {},
      credentialChain: async () => {
        throw new Error("no IAM here");
      },
    });
    await expect(s.bucketExists(bucket)).rejects.toThrow(/iam_auth found no credentials/);
  });

  it("falls back to AWS_ENDPOINT_URL / AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY", async () => {
    const s = store({
      env: {
        AWS_ENDPOINT_URL: keys.address,
        AWS_ACCESS_KEY_ID: keys.accessKey,
        AWS_SECRET_ACCESS_KEY: keys.secretKey,
      },
    });
    expect(s.endpoint).toBe(keys.address);
    expect(await s.bucketExists(bucket)).toBe(true);
    expect(() => new S3ObjectStore({ address: keys.address, env: {} })).toThrow(/no credentials/);
  });

  it("names bucket and endpoint, never the secret, when the credentials are rejected", async () => {
    const secret = "definitely-wrong-secret-123";
    const s = store({ ...keys, secretKey: secret });
    const err = await s.bucketExists(bucket).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).not.toBeNull();
    expect(err!.message).toContain(`S3 rejected the credentials for bucket "${bucket}" at ${keys.address}`);
    expect(err!.message).not.toContain(secret);
    const put = await s.putObject(bucket, "k", Buffer.from("x")).then(
      () => null,
      (e: Error) => e,
    );
    expect(put!.message).toContain(`"${bucket}/k"`);
    expect(put!.message).not.toContain(secret);
  });
});

describe("S3ObjectStore uploads", () => {
  it("streams a body larger than one part in a multipart upload", async () => {
    const s = store({ ...keys, partSize: 5 * 1024 * 1024, queueSize: 2 });
    const data = randomBytes(11 * 1024 * 1024 + 123);
    const chunks = Array.from({ length: Math.ceil(data.length / 65536) }, (_, i) =>
      data.subarray(i * 65536, (i + 1) * 65536),
    );
    await s.putObject(bucket, "big-stream", Readable.from(chunks));
    expect(await s.headObject(bucket, "big-stream")).toBe(data.length);
    expect((await readAll(await s.getObjectStream(bucket, "big-stream"))).equals(data)).toBe(true);
    const range = await readAll(await s.getObjectRange(bucket, "big-stream", 5_000_000, 5_000_010));
    expect(range.equals(data.subarray(5_000_000, 5_000_010))).toBe(true);
  });

  it('deletes unversioned objects listed with version id "null" by key', async () => {
    const s = store(keys);
    await s.putObject(bucket, "nullv", Buffer.from("v"));
    const versions = await s.listObjectVersions(bucket);
    expect(versions.get("nullv")).toEqual(["null"]);
    await s.deleteObjects(bucket, [{ key: "nullv", versionId: "null" }]);
    expect(await s.headObject(bucket, "nullv")).toBeNull();
  });
});

describe("S3ObjectStore against a server that stops answering", () => {
  /** A loopback server that accepts connections and answers each request with `reply` (or nothing). */
  async function stalling(reply?: string): Promise<{ url: string; close: () => void }> {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => undefined);
      socket.once("data", () => {
        if (reply !== undefined) socket.write(reply);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      close: () => {
        for (const socket of sockets) socket.destroy();
        server.close();
      },
    };
  }

  it("fails a request the server never answers after the idle timeout, naming the endpoint", async () => {
    const server = await stalling();
    try {
      const s = store({ ...keys, address: server.url, idleTimeoutMs: 300 });
      const started = Date.now();
      await expect(s.bucketExists(bucket)).rejects.toThrow(
        new RegExp(`${server.url.replace(/[.]/g, "\\.")}.*timed out after 300 ms of inactivity`),
      );
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      server.close();
    }
  }, 20_000);

  it("fails a download whose body stops coming", async () => {
    const server = await stalling(
      "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\nfirst bytes",
    );
    try {
      const s = store({ ...keys, address: server.url, idleTimeoutMs: 300 });
      const stream = await s.getObjectStream(bucket, "stalled");
      await expect(readAll(stream)).rejects.toThrow(/timed out after 300 ms of inactivity/);
    } finally {
      server.close();
    }
  }, 20_000);
});
