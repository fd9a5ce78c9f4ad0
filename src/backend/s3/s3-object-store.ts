/**
 * The object store on S3 (AWS SDK v3), spec §3.3 and §6.3. Settings that matter for non-AWS servers
 * (Ceph RGW, MinIO): path-style addressing and checksums only when required (recent SDKs otherwise
 * send `aws-chunked` bodies with CRC trailers, which Ceph rejects and others store verbatim).
 *
 * Every error names the operation, bucket, key and endpoint, never the secret key.
 */
import { once } from "node:events";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { Readable } from "node:stream";
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  type DeleteObjectsCommandOutput,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  type ObjectIdentifier,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { ResourceError } from "../../resource/errors.js";
import type { UploadBody } from "../../resource/object-storage.js";
import type { ObjectStore } from "../types.js";

/** Static S3 credentials (shape of the SDK's S3Credentials). */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}
/** A credential provider (shape of the SDK's S3CredentialProvider). */
export type S3CredentialProvider = () => Promise<S3Credentials>;

/** Objects up to this size (known in advance) are sent with one PutObject, like Python does. */
export const SINGLE_PUT_MAX_BYTES = 8 * 1024 * 1024;
/**
 * Files up to this size (S3's limit for one PutObject) are streamed from disk in one PutObject;
 * larger files, and streams of unknown length, go in a multipart upload. One streamed request is as
 * fast as the server takes it and needs no part buffers; on Ceph RGW it measured ~1.6x the
 * throughput of 8 MiB parts × 4 (docs/performance.md). Option `streamedPutMaxBytes`.
 */
export const STREAMED_PUT_MAX_BYTES = 5 * 1024 * 1024 * 1024;
/** Attempts of a streamed PutObject (each with a fresh read of the file). */
const STREAMED_PUT_ATTEMPTS = 3;
/** boto3's default connect and read timeouts (what Python Karton runs with): 60 s each. */
export const S3_CONNECT_TIMEOUT_MS = 60_000;
export const S3_IDLE_TIMEOUT_MS = 60_000;
/** Multipart part size; memory per upload is bounded by partSize × queueSize. */
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
export const DEFAULT_QUEUE_SIZE = 4;
/** DeleteObjects entries per request (spec §6.3). */
export const DELETE_CHUNK = 100;
/**
 * Versions per page of {@link S3ObjectStore.listObjectVersionsPage} (S3's default is 1,000). The
 * AWS SDK parses a page's XML in one go: ~40 ms of blocked event loop for 1,000 versions, during
 * which the router that shares the process with the garbage collector routes nothing.
 */
export const LIST_PAGE_KEYS = 250;

export interface S3ObjectStoreOptions {
  /** `[s3] address`: endpoint URL with scheme; falls back to env `AWS_ENDPOINT_URL`. */
  address?: string;
  /** `[s3] access_key`; falls back to env `AWS_ACCESS_KEY_ID`. */
  accessKey?: string;
  /** `[s3] secret_key`; falls back to env `AWS_SECRET_ACCESS_KEY`. */
  secretKey?: string;
  /** `[s3] iam_auth`: use the SDK credential chain first, the keys only when it yields nothing. */
  iamAuth?: boolean;
  /** Region for SigV4; default env `AWS_REGION`, else `us-east-1`. */
  region?: string;
  /**
   * `[system] enable_null_version_deletion`: send `VersionId: "null"` in DeleteObjects. Default
   * false: entries whose version is `"null"` are deleted by key only.
   */
  enableNullVersionDeletion?: boolean;
  partSize?: number;
  queueSize?: number;
  /** Largest file sent in one streamed PutObject (default {@link STREAMED_PUT_MAX_BYTES}; 0: never). */
  streamedPutMaxBytes?: number;
  /** Time allowed to connect, ms (default {@link S3_CONNECT_TIMEOUT_MS}). */
  connectTimeoutMs?: number;
  /** Time a request may go without a byte sent or received, ms (default {@link S3_IDLE_TIMEOUT_MS}). */
  idleTimeoutMs?: number;
  /** Environment used for the fall-backs (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Replaces the credential chain used with `iamAuth` (tests). */
  credentialChain?: S3CredentialProvider;
}

/** Errors of the S3 store: always with the operation, bucket, key and endpoint. */
export class ObjectStoreError extends Error {
  readonly code: string;
  constructor(code: string, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "ObjectStoreError";
    this.code = code;
  }
}

export class S3ObjectStore implements ObjectStore {
  readonly client: S3Client;
  /** The endpoint, as shown in messages. */
  readonly endpoint: string;
  readonly #enableNullVersionDeletion: boolean;
  readonly #partSize: number;
  readonly #queueSize: number;
  readonly #streamedPutMaxBytes: number;
  /** The same client without SDK retries: a retried request cannot re-read a consumed file stream. */
  readonly #streamClient: S3Client;

  constructor(options: S3ObjectStoreOptions) {
    const env = options.env ?? process.env;
    const address = options.address || env.AWS_ENDPOINT_URL || undefined;
    const accessKey = options.accessKey || env.AWS_ACCESS_KEY_ID || undefined;
    const secretKey = options.secretKey || env.AWS_SECRET_ACCESS_KEY || undefined;
    this.endpoint = address ?? "(AWS default endpoint)";
    this.#enableNullVersionDeletion = options.enableNullVersionDeletion ?? false;
    this.#partSize = Math.max(5 * 1024 * 1024, options.partSize ?? DEFAULT_PART_SIZE);
    this.#queueSize = Math.max(1, options.queueSize ?? DEFAULT_QUEUE_SIZE);
    this.#streamedPutMaxBytes = Math.max(0, options.streamedPutMaxBytes ?? STREAMED_PUT_MAX_BYTES);
    const keys: S3Credentials | undefined =
      accessKey && secretKey ? { accessKeyId: accessKey, secretAccessKey: secretKey } : undefined;
    let credentials: S3Credentials | S3CredentialProvider;
    if (options.iamAuth) {
      credentials = iamProvider(options.credentialChain ?? lazyNodeProviderChain(), keys, this.endpoint);
    } else if (keys) {
      credentials = keys;
    } else {
      throw new ObjectStoreError(
        "S3_CONFIG",
        `S3 at ${this.endpoint}: no credentials ([s3] access_key and secret_key, or env AWS_ACCESS_KEY_ID and ` +
          "AWS_SECRET_ACCESS_KEY, or [s3] iam_auth = true)",
      );
    }
    const config = {
      ...(address ? { endpoint: address } : {}),
      region: options.region || env.AWS_REGION || "us-east-1",
      forcePathStyle: true,
      requestChecksumCalculation: "WHEN_REQUIRED" as const,
      responseChecksumValidation: "WHEN_REQUIRED" as const,
      credentials,
      // Without these the SDK waits forever on a server that accepts and never answers (or stops
      // mid-body); an idle limit, not a total one, so that large transfers are not cut.
      requestHandler: {
        connectionTimeout: options.connectTimeoutMs ?? S3_CONNECT_TIMEOUT_MS,
        socketTimeout: options.idleTimeoutMs ?? S3_IDLE_TIMEOUT_MS,
      },
    };
    this.client = new S3Client(config);
    this.#streamClient = new S3Client({ ...config, maxAttempts: 1 });
  }

  #where(bucket: string, key?: string): string {
    return `${key === undefined ? `bucket "${bucket}"` : `"${bucket}/${key}"`} at ${this.endpoint}`;
  }

  #error(operation: string, bucket: string, key: string | undefined, err: unknown): Error {
    const status = httpStatus(err);
    const name = errorName(err);
    if (
      status === 403 ||
      name === "InvalidAccessKeyId" ||
      name === "SignatureDoesNotMatch" ||
      name === "AccessDenied"
    ) {
      return new ObjectStoreError(
        "S3_ACCESS_DENIED",
        `S3 ${operation} of ${this.#where(bucket, key)}: S3 rejected the credentials for bucket "${bucket}" at ` +
          `${this.endpoint} (${name || `HTTP ${status}`})`,
        err,
      );
    }
    const message = err instanceof Error ? err.message : String(err);
    return new ObjectStoreError(
      "S3_ERROR",
      `S3 ${operation} of ${this.#where(bucket, key)} failed: ${name && !message.includes(name) ? `${name}: ` : ""}${message}`,
      err,
    );
  }

  // ---- ObjectStorage ----------------------------------------------------------------------------

  async getObjectStream(bucket: string, key: string): Promise<Readable> {
    return this.#get("GetObject", bucket, key);
  }

  /** Bytes [start, end) of an object (end exclusive). */
  async getObjectRange(bucket: string, key: string, start: number, end: number): Promise<Readable> {
    if (end <= start) return Readable.from([]);
    return this.#get("GetObject (range)", bucket, key, `bytes=${start}-${end - 1}`);
  }

  async #get(operation: string, bucket: string, key: string, range?: string): Promise<Readable> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, ...(range ? { Range: range } : {}) }),
      );
      const body = out.Body;
      if (body instanceof Readable) return body;
      if (body && typeof (body as { transformToWebStream?: unknown }).transformToWebStream === "function") {
        const web = (body as { transformToWebStream(): ReadableStream }).transformToWebStream();
        return Readable.fromWeb(web as import("node:stream/web").ReadableStream);
      }
      return Readable.from([]);
    } catch (err) {
      if (isNotFound(err)) {
        throw new ResourceError(
          "RESOURCE_NOT_FOUND",
          `object "${bucket}/${key}" not found at ${this.endpoint}${errorName(err) === "NoSuchBucket" ? " (no such bucket)" : ""}`,
          { uid: key, cause: err },
        );
      }
      throw this.#error(operation, bucket, key, err);
    }
  }

  async putObject(bucket: string, key: string, body: UploadBody, size?: number): Promise<void> {
    try {
      if (Buffer.isBuffer(body)) {
        await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
        return;
      }
      if (!(body instanceof Readable) && typeof body.path === "string") {
        const length = size ?? (await stat(body.path)).size;
        if (length <= SINGLE_PUT_MAX_BYTES) {
          const data = await readFile(body.path);
          await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
          return;
        }
        if (length <= this.#streamedPutMaxBytes) {
          await this.#streamedPut(bucket, key, body.path, length);
          return;
        }
        await this.#upload(bucket, key, createReadStream(body.path));
        return;
      }
      await this.#upload(bucket, key, body as Readable);
    } catch (err) {
      if (err instanceof ObjectStoreError) throw err;
      throw this.#error("PutObject", bucket, key, err);
    }
  }

  /**
   * One PutObject streamed from the file; retried (reading the file again) on transient failures.
   * The file is opened before the request, and a read error aborts the request (the server would
   * otherwise wait for the rest of the announced body).
   */
  async #streamedPut(bucket: string, key: string, path: string, length: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const stream = createReadStream(path, { highWaterMark: 1024 * 1024 });
      await once(stream, "open");
      const actual = (await stat(path)).size;
      if (actual !== length) {
        stream.destroy();
        throw new Error(
          `${path} is ${actual} bytes, not ${length}: the file changed while it was being sent`,
        );
      }
      const abort = new AbortController();
      let readError: unknown;
      stream.on("error", (err) => {
        readError ??= err;
        abort.abort(err);
      });
      try {
        await this.#streamClient.send(
          new PutObjectCommand({ Bucket: bucket, Key: key, Body: stream, ContentLength: length }),
          { abortSignal: abort.signal },
        );
        return;
      } catch (err) {
        stream.destroy();
        if (readError !== undefined) throw readError;
        if (attempt >= STREAMED_PUT_ATTEMPTS || !isTransient(err)) throw err;
        await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** (attempt - 1)));
      }
    }
  }

  async #upload(bucket: string, key: string, stream: Readable): Promise<void> {
    // lib-storage buffers at most partSize × queueSize bytes; a body smaller than one part is sent
    // with a single PutObject.
    // Loaded on first use (most objects go in one PutObject): a smaller, faster-starting process.
    const { Upload } = await import("@aws-sdk/lib-storage");
    const upload = new Upload({
      client: this.client,
      params: { Bucket: bucket, Key: key, Body: stream },
      partSize: this.#partSize,
      queueSize: this.#queueSize,
      leavePartsOnError: false,
    });
    await upload.done();
  }

  // ---- ObjectStore ------------------------------------------------------------------------------

  async headObject(bucket: string, key: string): Promise<number | null> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return out.ContentLength ?? 0;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.#error("HeadObject", bucket, key, err);
    }
  }

  async bucketExists(bucket: string): Promise<boolean> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: bucket }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw this.#error("HeadBucket", bucket, undefined, err);
    }
  }

  async createBucket(bucket: string): Promise<void> {
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: bucket }));
    } catch (err) {
      const name = errorName(err);
      if (name === "BucketAlreadyOwnedByYou") return;
      throw this.#error("CreateBucket", bucket, undefined, err);
    }
  }

  async listObjectVersionsPage(
    bucket: string,
    cursor?: string,
  ): Promise<{ versions: [string, string][]; next: string | undefined }> {
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    if (cursor !== undefined) [keyMarker, versionMarker] = JSON.parse(cursor) as [string?, string?];
    try {
      const page = await this.client.send(
        new ListObjectVersionsCommand({
          Bucket: bucket,
          MaxKeys: LIST_PAGE_KEYS,
          ...(keyMarker !== undefined && keyMarker !== null ? { KeyMarker: keyMarker } : {}),
          ...(versionMarker !== undefined && versionMarker !== null
            ? { VersionIdMarker: versionMarker }
            : {}),
        }),
      );
      const versions: [string, string][] = [];
      for (const v of page.Versions ?? [])
        if (v.Key !== undefined) versions.push([v.Key, v.VersionId ?? "null"]);
      for (const m of page.DeleteMarkers ?? [])
        if (m.Key !== undefined) versions.push([m.Key, m.VersionId ?? "null"]);
      const more =
        page.IsTruncated === true &&
        (page.NextKeyMarker !== undefined || page.NextVersionIdMarker !== undefined);
      return {
        versions,
        next: more
          ? JSON.stringify([page.NextKeyMarker ?? null, page.NextVersionIdMarker ?? null])
          : undefined,
      };
    } catch (err) {
      throw this.#error("ListObjectVersions", bucket, undefined, err);
    }
  }

  async listObjectVersions(bucket: string): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    let cursor: string | undefined;
    do {
      const page = await this.listObjectVersionsPage(bucket, cursor);
      for (const [key, versionId] of page.versions) {
        const ids = out.get(key);
        if (ids === undefined) out.set(key, [versionId]);
        else ids.push(versionId);
      }
      cursor = page.next;
    } while (cursor !== undefined);
    return out;
  }

  async deleteObjects(bucket: string, entries: { key: string; versionId?: string }[]): Promise<void> {
    const objects: ObjectIdentifier[] = entries.map(({ key, versionId }) =>
      versionId === undefined || (versionId === "null" && !this.#enableNullVersionDeletion)
        ? { Key: key }
        : { Key: key, VersionId: versionId },
    );
    for (let i = 0; i < objects.length; i += DELETE_CHUNK) {
      const chunk = objects.slice(i, i + DELETE_CHUNK);
      let out: DeleteObjectsCommandOutput;
      try {
        out = await this.client.send(
          new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: chunk, Quiet: true } }),
        );
      } catch (err) {
        throw this.#error("DeleteObjects", bucket, chunk[0]?.Key, err);
      }
      const errors = out.Errors ?? [];
      if (errors.length > 0) {
        const first = errors[0]!;
        throw new ObjectStoreError(
          "S3_ERROR",
          `S3 DeleteObjects in ${this.#where(bucket)}: ${errors.length} of ${chunk.length} object(s) not deleted ` +
            `(first: "${first.Key}": ${first.Code ?? "?"} ${first.Message ?? ""})`.trimEnd(),
        );
      }
    }
  }

  /** Deletes an (empty) bucket; not used by Karton itself (tests, tools). */
  async deleteBucket(bucket: string): Promise<void> {
    try {
      await this.client.send(new DeleteBucketCommand({ Bucket: bucket }));
    } catch (err) {
      if (isNotFound(err)) return;
      throw this.#error("DeleteBucket", bucket, undefined, err);
    }
  }

  /** Releases the HTTP agent's sockets. */
  close(): void {
    this.client.destroy();
    this.#streamClient.destroy();
  }
}

/** The SDK chain first; the configured keys when the chain yields nothing; cached until expiry. */
/**
 * The SDK's default credential chain, loaded on first use: `@aws-sdk/credential-providers` (SSO, STS,
 * web identity, ...) weighs ~10 MB of memory, needed only with `[s3] iam_auth`.
 */
function lazyNodeProviderChain(): S3CredentialProvider {
  let chain: Promise<S3CredentialProvider> | undefined;
  return async () => {
    chain ??= import("@aws-sdk/credential-providers").then(
      (m) => m.fromNodeProviderChain() as unknown as S3CredentialProvider,
    );
    return (await chain)();
  };
}

function iamProvider(
  chain: S3CredentialProvider,
  keys: S3Credentials | undefined,
  endpoint: string,
): S3CredentialProvider {
  let cached: S3Credentials | undefined;
  return async () => {
    const now = Date.now();
    if (cached && (!cached.expiration || cached.expiration.getTime() - now > 5 * 60_000)) return cached;
    try {
      cached = await chain();
    } catch (err) {
      if (!keys) {
        throw new ObjectStoreError(
          "S3_CONFIG",
          `S3 at ${endpoint}: [s3] iam_auth found no credentials and no access_key/secret_key are configured ` +
            `(${(err as Error).message})`,
          err,
        );
      }
      cached = keys;
    }
    return cached;
  };
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

function errorName(err: unknown): string {
  const e = err as { name?: unknown; Code?: unknown } | undefined;
  if (typeof e?.Code === "string") return e.Code;
  return typeof e?.name === "string" && e.name !== "Error" ? e.name : "";
}

/** Worth another attempt: no HTTP answer (network), a 5xx, throttling or a request timeout. */
function isTransient(err: unknown): boolean {
  const status = httpStatus(err);
  if (status === undefined) return true;
  const name = errorName(err);
  return status >= 500 || status === 429 || name === "RequestTimeout" || name === "SlowDown";
}

function isNotFound(err: unknown): boolean {
  const name = errorName(err);
  return httpStatus(err) === 404 || name === "NoSuchKey" || name === "NotFound" || name === "NoSuchBucket";
}
