/**
 * The Lua scripts of the Redis backend and their loader. Each script is registered on a client
 * with ioredis `defineCommand` (EVALSHA, falling back to EVAL on NOSCRIPT, so a flushed script cache
 * after a Redis restart is harmless) and run through {@link runScript}.
 */
import type { ChainableCommander, Redis } from "ioredis";
import { applyRoutePlan } from "./scripts/apply-route-plan.js";
import { claimTask } from "./scripts/claim-task.js";
import { claimWithBind } from "./scripts/claim-with-bind.js";
import { collectTasks } from "./scripts/collect-tasks.js";
import { completeClaimed } from "./scripts/complete-claimed.js";
import { newestClaims } from "./scripts/newest-claims.js";
import {
  crashAbandoned,
  forgetInstance,
  handBackClaimed,
  requeueAbandoned,
  returnAbandonedUnrouted,
} from "./scripts/recovery.js";
import { takeRoutingBatch } from "./scripts/take-routing-batch.js";
import { takeUnrouted } from "./scripts/take-unrouted.js";
import type { LuaScript } from "./scripts/types.js";

export type { LuaScript } from "./scripts/types.js";

/** Every script, by name. */
export const SCRIPTS = {
  claimTask,
  claimWithBind,
  completeClaimed,
  collectTasks,
  handBackClaimed,
  newestClaims,
  takeUnrouted,
  takeRoutingBatch,
  applyRoutePlan,
  requeueAbandoned,
  crashAbandoned,
  returnAbandonedUnrouted,
  forgetInstance,
} as const satisfies Record<string, LuaScript>;

export type ScriptName = keyof typeof SCRIPTS;

/** BullMQ-style file name of a script: `<name>-<numKeys>` (numKeys omitted when variable). */
export function scriptId(script: LuaScript): string {
  return script.numberOfKeys === undefined ? script.name : `${script.name}-${script.numberOfKeys}`;
}

/** Registers every script on a client (idempotent). */
export function defineScripts(client: Redis): void {
  for (const script of Object.values(SCRIPTS)) {
    const options: { lua: string; numberOfKeys?: number } = { lua: script.lua };
    if (script.numberOfKeys !== undefined) options.numberOfKeys = script.numberOfKeys;
    client.defineCommand(script.name, options);
  }
}

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

/**
 * Runs a script defined with {@link defineScripts} on a client or a pipeline. Scripts with a
 * variable key count receive it automatically. With `buffers`, bulk replies come back as Buffers.
 */
export function runScript(
  target: Redis | ChainableCommander,
  name: ScriptName,
  keys: string[],
  args: (string | number)[],
  options: { buffers?: boolean } = {},
): Promise<unknown> {
  const script: LuaScript = SCRIPTS[name];
  if (script.numberOfKeys !== undefined && script.numberOfKeys !== keys.length) {
    throw new Error(`script ${scriptId(script)} called with ${keys.length} keys`);
  }
  // ioredis defines `<name>Buffer` too: the same script with bulk replies as Buffers (not decoded).
  const fn = (target as unknown as Record<string, ScriptFn>)[options.buffers ? `${name}Buffer` : name];
  if (typeof fn !== "function") throw new Error(`script ${name} is not defined on this connection`);
  const head = script.numberOfKeys === undefined ? [keys.length, ...keys] : keys;
  return fn.call(target, ...head, ...args);
}
