export type { AbandonedClaims, BindsSnapshot, InstanceKind, KartonBackend } from "./backend.js";
export * from "./types.js";
