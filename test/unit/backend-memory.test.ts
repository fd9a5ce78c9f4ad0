/**
 * The shared backend suite against the embedded backend: a fresh in-process store and a fresh
 * temporary object directory per test. No servers needed.
 */
import { randomUUID } from "node:crypto";
import { LocalObjectStore } from "../../src/backend/memory/local-object-store.js";
import { MemoryBackend } from "../../src/backend/memory/memory-backend.js";
import { MemoryStore } from "../../src/backend/memory/memory-store.js";
import { backendSuite } from "../backend/suite.js";

backendSuite("embedded", async () => {
  const store = new MemoryStore(`suite-${randomUUID()}`);
  const objects = LocalObjectStore.temporary("karton-suite-");
  const bucket = "suite-bucket";
  await objects.createBucket(bucket);
  const clientName = `suite.main?karton_version=test&x=${encodeURIComponent("a b")}`;
  const backend = new MemoryBackend({ store, objects, defaultBucket: bucket, clientName });
  const peers: MemoryBackend[] = [];
  return {
    backend,
    bucket,
    clientName,
    async peer() {
      const peer = new MemoryBackend({ store, objects, defaultBucket: bucket });
      peers.push(peer);
      await peer.ping();
      return peer;
    },
    async writeRawBind(identity, raw) {
      store.hset("karton.binds", identity, raw);
    },
    async cleanup() {
      await Promise.all(peers.map((p) => p.close()));
      await backend.close();
      await objects.dispose();
    },
  };
});
