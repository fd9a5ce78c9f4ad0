/**
 * Where the integration tests find their real Redis and S3 servers.
 *
 * `npm test` starts both with `scripts/services.sh run` and exports the KARTON_TEST_* variables
 * read here; to use servers of your own, export them yourself (see `scripts/services.sh --help`).
 * Integration tests must fail, never skip, when the servers are missing: `testServices()` throws.
 */
import { randomBytes } from "node:crypto";
import type { S3ClientConfig } from "@aws-sdk/client-s3";

export interface TestServices {
  redis: { host: string; port: number };
  s3: { address: string; accessKey: string; secretKey: string };
}

const REQUIRED_VARS = [
  "KARTON_TEST_REDIS_HOST",
  "KARTON_TEST_REDIS_PORT",
  "KARTON_TEST_S3_ADDRESS",
  "KARTON_TEST_S3_ACCESS_KEY",
  "KARTON_TEST_S3_SECRET_KEY",
] as const;

/** Addresses and credentials of the test Redis and S3 servers, from the environment. */
export function testServices(env: NodeJS.ProcessEnv = process.env): TestServices {
  const missing = REQUIRED_VARS.filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new Error(
      "integration tests need real Redis and S3: run `npm test`, or set KARTON_TEST_REDIS_HOST, " +
        "KARTON_TEST_REDIS_PORT, KARTON_TEST_S3_ADDRESS, KARTON_TEST_S3_ACCESS_KEY and " +
        `KARTON_TEST_S3_SECRET_KEY (see scripts/services.sh --help); missing: ${missing.join(", ")}`,
    );
  }
  const portText = env.KARTON_TEST_REDIS_PORT as string;
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new Error(`KARTON_TEST_REDIS_PORT is not a port number: ${JSON.stringify(portText)}`);
  }
  const address = env.KARTON_TEST_S3_ADDRESS as string;
  if (!/^https?:\/\//.test(address)) {
    throw new Error(`KARTON_TEST_S3_ADDRESS must be an http(s):// URL, got ${JSON.stringify(address)}`);
  }
  return {
    redis: { host: env.KARTON_TEST_REDIS_HOST as string, port },
    s3: {
      address,
      accessKey: env.KARTON_TEST_S3_ACCESS_KEY as string,
      secretKey: env.KARTON_TEST_S3_SECRET_KEY as string,
    },
  };
}

/**
 * S3 client settings that work against the test gateway (Ceph RGW): path-style addressing, and
 * no default checksums, which recent SDKs send as `aws-chunked` bodies that Ceph rejects.
 */
export function testS3ClientConfig(services: TestServices = testServices()): S3ClientConfig {
  return {
    endpoint: services.s3.address,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: services.s3.accessKey, secretAccessKey: services.s3.secretKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  };
}

let nameCounter = 0;

/**
 * A name unique to this call, usable as an S3 bucket name (3-63 characters of lowercase letters,
 * digits and dashes, starting and ending with a letter or digit) and as a Redis key prefix.
 * The prefix is lowercased and anything else becomes a dash.
 */
export function uniqueName(prefix = "t"): string {
  nameCounter += 1;
  const suffix = `${process.pid.toString(36)}-${nameCounter.toString(36)}-${randomBytes(4).toString("hex")}`;
  let head = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^-+|-+$/g, "");
  if (head === "") head = "t";
  head = head.slice(0, 63 - suffix.length - 1).replace(/-+$/g, "");
  return `${head}-${suffix}`;
}

let lastDb = 0;

/**
 * The next Redis database number, 1..15 round-robin in this process (db 0 is left alone).
 * A test selects its db and FLUSHDBs it before use.
 */
export function nextRedisDb(): number {
  lastDb = (lastDb % 15) + 1;
  return lastDb;
}
