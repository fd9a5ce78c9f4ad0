/** An object store for Redis-only tests: every call fails loudly. */
import type { ObjectStore } from "../../src/backend/types.js";

const fail = async (): Promise<never> => {
  throw new Error("object store not available in this test");
};

export const noObjects: ObjectStore = {
  getObjectStream: fail,
  putObject: fail,
  bucketExists: fail,
  createBucket: fail,
  listObjectVersions: fail,
  deleteObjects: fail,
  headObject: fail,
};
