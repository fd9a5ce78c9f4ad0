/**
 * Redis connections for karton-ts (ioredis, see docs/adr/001-redis-client.md).
 *
 * - `[redis]` options (spec §1.2, §10.2): host/port/db/ssl, or `url` (`redis://`, `rediss://`,
 *   `unix://`; the URL wins over host/port/db/ssl, credentials inside the URL win over
 *   username/password), `socket_timeout` (seconds, 0 = none) as the command timeout.
 * - Exactly one *named* connection per process (the main command connection); blocking and pub/sub
 *   connections are unnamed unless the caller names them (log consumers, spec §1.3). The name is
 *   re-sent by ioredis on every reconnect (`connectionName`).
 * - Reconnects forever with capped exponential backoff (100 ms → 5 s); every retry and every
 *   reconnect is reported through `onEvent`. Commands issued while disconnected wait in the offline
 *   queue and fail after `socket_timeout` (or, with `socket_timeout = 0`, after
 *   {@link OFFLINE_MAX_RETRIES} reconnection attempts, about 80 s) with an error naming host:port/db.
 * - Secrets never appear in messages: targets are shown as `host:port/db` or the socket path.
 */
import { hostname } from "node:os";
import { type RedisOptions as IORedisOptions, Redis } from "ioredis";
import type { RedisOptions } from "../../config/options.js";
import { LIBRARY_VERSION } from "../../version.js";

/** Severity of a connection event reported to the caller's logger. */
export type ConnectionEventLevel = "debug" | "info" | "warning" | "error";
/** Receives connection events (retries, reconnects, auth fall-back). Must not throw. */
export type ConnectionEventHandler = (level: ConnectionEventLevel, message: string) => void;

/** First reconnection delay, doubled on every attempt up to {@link RECONNECT_MAX_DELAY_MS}. */
export const RECONNECT_MIN_DELAY_MS = 100;
export const RECONNECT_MAX_DELAY_MS = 5000;
/** With `socket_timeout = 0`, a queued command fails after this many reconnection attempts. */
export const OFFLINE_MAX_RETRIES = 20;
/** TCP connect timeout of one attempt. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** Where and how to connect, resolved from `[redis]` (URL parsed, empty credentials dropped). */
export interface RedisTarget {
  host: string;
  port: number;
  /** Unix socket path (`unix://` URLs); host/port are then unused. */
  path?: string;
  db: number;
  tls: boolean;
  username?: string;
  password?: string;
  /** `socket_timeout` in milliseconds; 0 = none. */
  commandTimeoutMs: number;
  /** `host:port/db` (or `unix:<path>/db`), with `tls` marked; never contains credentials. */
  display: string;
}

/** What a connection is for; decides its timeouts. */
export type ConnectionRole = "main" | "blocking" | "subscriber";

/** How much later than its own timeout the reply of a blocking command may come before it is given up. */
export const BLOCKING_GRACE_MS = 2000;

export interface ConnectionOptions {
  role: ConnectionRole;
  /** Client name (`CLIENT SETNAME`); empty or undefined leaves the connection unnamed. */
  name?: string;
  onEvent?: ConnectionEventHandler;
  /** Drop username/password (after the authentication fall-back of spec §1.2). */
  withoutCredentials?: boolean;
}

/** Resolves `[redis]` options (as read by `KartonConfig.redisOptions()`) into a connection target. */
export function resolveRedisTarget(options: RedisOptions): RedisTarget {
  const nonEmpty = (v: string | undefined | null): string | undefined => (v ? v : undefined);
  let host = options.host ?? "localhost";
  let port = options.port ?? 6379;
  let db = options.db ?? 0;
  let tls = options.ssl ?? false;
  let path: string | undefined;
  let username = nonEmpty(options.username);
  let password = nonEmpty(options.password);
  if (options.url) {
    const url = new URL(options.url);
    const scheme = url.protocol;
    if (scheme !== "redis:" && scheme !== "rediss:" && scheme !== "unix:") {
      throw new Error(`[redis] url must start with redis://, rediss:// or unix:// (got "${scheme}//...")`);
    }
    // Credentials embedded in the URL win over the username/password options (as in redis-py).
    const urlUser = nonEmpty(decodeURIComponent(url.username));
    const urlPassword = nonEmpty(decodeURIComponent(url.password));
    if (urlUser !== undefined) username = urlUser;
    if (urlPassword !== undefined) password = urlPassword;
    tls = scheme === "rediss:";
    const queryDb = url.searchParams.get("db");
    if (scheme === "unix:") {
      path = decodeURIComponent(url.pathname);
      if (!path) throw new Error("[redis] url: unix:// URL without a socket path");
      db = queryDb !== null ? parseDb(queryDb) : 0;
      host = "localhost";
      port = 0;
    } else {
      host = url.hostname.replace(/^\[(.*)\]$/, "$1") || "localhost";
      port = url.port ? Number(url.port) : 6379;
      const pathDb = url.pathname.replace(/^\/+/, "");
      db = pathDb ? parseDb(pathDb) : queryDb !== null ? parseDb(queryDb) : 0;
    }
  }
  const where = path !== undefined ? `unix:${path}` : `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const target: RedisTarget = {
    host,
    port,
    db,
    tls,
    commandTimeoutMs: Math.max(0, options.socketTimeout ?? 30) * 1000,
    display: `${tls ? "rediss" : "redis"}://${where}/${db}`,
  };
  if (path !== undefined) target.path = path;
  if (username !== undefined) target.username = username;
  if (password !== undefined) target.password = password;
  return target;
}

function parseDb(text: string): number {
  const db = Number(text);
  if (!Number.isInteger(db) || db < 0) throw new Error(`[redis] url: invalid database number "${text}"`);
  return db;
}

/** Capped exponential backoff: 100, 200, 400, ... 5000 ms. */
export function reconnectDelay(attempt: number): number {
  return Math.min(RECONNECT_MIN_DELAY_MS * 2 ** Math.max(0, attempt - 1), RECONNECT_MAX_DELAY_MS);
}

/** The ioredis options for a target and role (exported for tests; no secrets are logged from it). */
export function ioredisOptions(target: RedisTarget, options: ConnectionOptions): IORedisOptions {
  const result: IORedisOptions = {
    db: target.db,
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    enableOfflineQueue: true,
    enableReadyCheck: true,
    disableClientInfo: true,
    // A command whose connection dropped is failed, not silently re-sent: a re-sent MULTI or script
    // could apply twice. Callers see an error and decide (our scripts are idempotent anyway).
    autoResendUnfulfilledCommands: false,
    retryStrategy: () => null, // replaced in createRedisConnection (needs the client for events)
  };
  if (target.path !== undefined) result.path = target.path;
  else {
    result.host = target.host;
    result.port = target.port;
  }
  if (target.tls) result.tls = target.path === undefined ? { servername: target.host } : {};
  // A username without a password cannot authenticate (AUTH needs both): it is ignored, as redis-py does.
  if (!options.withoutCredentials && target.password !== undefined) {
    result.password = target.password;
    if (target.username !== undefined) result.username = target.username;
  }
  if (options.name) result.connectionName = options.name;
  switch (options.role) {
    case "main":
      if (target.commandTimeoutMs > 0) result.commandTimeout = target.commandTimeoutMs;
      result.maxRetriesPerRequest = target.commandTimeoutMs > 0 ? null : OFFLINE_MAX_RETRIES;
      break;
    case "blocking":
      // No command timeout: a BLMOVE must be allowed to block. A zombie connection is still
      // detected: ioredis resolves a blocking command as "timed out" after its own timeout + 100 ms.
      result.blockingTimeout = 60_000;
      // Generous: a reply later than timeout + grace is treated as "nothing" while the server may
      // have moved a uid (found again by the orphan check of the claim list).
      result.blockingTimeoutGrace = BLOCKING_GRACE_MS;
      result.maxRetriesPerRequest = OFFLINE_MAX_RETRIES;
      break;
    case "subscriber":
      result.maxRetriesPerRequest = null;
      break;
  }
  return result;
}

/**
 * Creates a (not yet connected) ioredis client for `[redis]`. Connect it with `connect()` or by
 * issuing a command. Reconnection events are reported through `options.onEvent`.
 */
export function createRedisConnection(target: RedisTarget, options: ConnectionOptions): Redis {
  const onEvent = options.onEvent ?? (() => {});
  const label = `${options.role} connection to ${target.display}${options.name ? ` (${options.name})` : ""}`;
  let lastError = "";
  let lost = false;
  const ioOptions = ioredisOptions(target, options);
  ioOptions.retryStrategy = (attempt: number) => {
    const delay = reconnectDelay(attempt);
    safeEvent(
      onEvent,
      attempt === 1 ? "warning" : "debug",
      `Redis ${label} lost${lastError ? ` (${lastError})` : ""}; reconnecting in ${delay} ms (attempt ${attempt})`,
    );
    return delay;
  };
  const client = new Redis(ioOptions);
  client.on("error", (err: Error) => {
    const message = describeRedisError(err);
    if (message !== lastError) safeEvent(onEvent, "debug", `Redis ${label}: ${message}`);
    lastError = message;
  });
  client.on("close", () => {
    if (client.status !== "end") lost = true;
    failUnansweredCommands(
      client,
      "connection lost before the reply arrived (the command may have been applied)",
    );
  });
  client.on("ready", () => {
    if (lost) safeEvent(onEvent, "info", `Redis ${label} re-established`);
    lost = false;
    lastError = "";
  });
  return client;
}

interface QueuedCommand {
  command: { reject(err: Error): void };
}

/**
 * With `autoResendUnfulfilledCommands: false` ioredis (5.x) silently drops the commands that were
 * written but not answered when a connection closes: their promises would never settle. The close
 * handler keeps them in `prevCommandQueue` until the next "ready"; we reject them there, so a caller
 * gets an error (as with redis-py) instead of hanging, and nothing is re-sent behind its back.
 * Pinned ioredis version; covered by the restart test (test/integration/backend-redis-faults).
 */
function failUnansweredCommands(client: Redis, message: string): void {
  const queue = (
    client as unknown as { prevCommandQueue?: { length: number; shift(): QueuedCommand | undefined } | null }
  ).prevCommandQueue;
  if (!queue || queue.length === 0) return;
  const err = new Error(message);
  for (let item = queue.shift(); item !== undefined; item = queue.shift()) item.command.reject(err);
}

function safeEvent(onEvent: ConnectionEventHandler, level: ConnectionEventLevel, message: string): void {
  try {
    onEvent(level, message);
  } catch {
    // a logger must never break the connection
  }
}

/** An error message without anything that could be a credential (ioredis never includes them). */
export function describeRedisError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

/** True for the replies of a failed AUTH or of a command refused for lack of authentication. */
export function isAuthError(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /^(WRONGPASS|NOAUTH|NOPERM)\b|invalid (username-)?password|no password is set|without any password configured|AUTH.*failed|Authentication required/i.test(
    message,
  );
}

/**
 * Client name of a karton service (spec §1.3): the identity, or with `extended` the identity,
 * `?` and `karton_version=<karton-ts version>` plus `service_version` when known, encoded like
 * Python's `urlencode`. An empty identity means "no name" (anonymous producer): undefined.
 */
export function clientName(
  identity: string,
  options: { extended?: boolean; serviceVersion?: string | null } = {},
): string | undefined {
  if (!identity) return undefined;
  if (/[\s?]/.test(identity)) {
    throw new Error(
      `identity "${identity}" must not contain whitespace or "?" (it is used as Redis client name)`,
    );
  }
  if (!options.extended) return identity;
  const params: [string, string][] = [["karton_version", LIBRARY_VERSION]];
  if (options.serviceVersion !== undefined && options.serviceVersion !== null) {
    params.push(["service_version", options.serviceVersion]);
  }
  return `${identity}?${params.map(([k, v]) => `${quotePlus(k)}=${quotePlus(v)}`).join("&")}`;
}

/** Python `urllib.parse.quote_plus`: unreserved characters kept, space as `+`, the rest %XX (UTF-8). */
export function quotePlus(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9_.~-]/.test(c)) out += c;
    else if (c === " ") out += "+";
    else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** One client of `CLIENT LIST`: its name split into identity (before `?`) and decoded parameters. */
export interface ParsedClient {
  name: string;
  identity: string;
  params: Record<string, string>;
  fields: Record<string, string>;
}

/** Parses `CLIENT LIST` output (one client per line, `key=value` fields separated by spaces). */
export function parseClientList(text: string): ParsedClient[] {
  const clients: ParsedClient[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const fields: Record<string, string> = {};
    for (const part of line.trim().split(" ")) {
      const eq = part.indexOf("=");
      if (eq > 0) fields[part.slice(0, eq)] = part.slice(eq + 1);
    }
    const name = fields.name ?? "";
    const q = name.indexOf("?");
    const identity = q < 0 ? name : name.slice(0, q);
    const params: Record<string, string> = {};
    if (q >= 0) {
      for (const [key, value] of new URLSearchParams(name.slice(q + 1))) {
        if (!Object.hasOwn(params, key)) params[key] = value;
      }
    }
    clients.push({ name, identity, params, fields });
  }
  return clients;
}

/** `host` and `pid` of this process for instance registrations. */
export function processInfo(): { host: string; pid: number } {
  return { host: hostname(), pid: process.pid };
}

/** The server refused the configured credentials and also refuses to work without them. */
export class RedisAuthError extends Error {
  readonly code = "REDIS_AUTH_FAILED";
  constructor(display: string, reason: string) {
    super(`Redis at ${display} rejected the credentials ([redis] username/password or URL): ${reason}`);
    this.name = "RedisAuthError";
  }
}

/**
 * The authentication fall-back of spec §1.2, done on a short-lived unnamed probe connection before
 * the main connection is opened: AUTH with the configured credentials; when that fails with an
 * authentication error, PING without them. Returns true when the credentials must be used, false
 * when the server works without them (a warning is reported). Throws {@link RedisAuthError} when
 * neither works, or the connection error when the server cannot be reached.
 */
export async function checkCredentials(
  target: RedisTarget,
  onEvent?: ConnectionEventHandler,
): Promise<boolean> {
  if (target.password === undefined) return false;
  const options = ioredisOptions(target, { role: "main", withoutCredentials: true });
  const probe = new Redis({
    ...options,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    commandTimeout: target.commandTimeoutMs > 0 ? target.commandTimeoutMs : CONNECT_TIMEOUT_MS,
  });
  // ioredis rejects connect() with a bare "Connection is closed." when the socket fails (TLS
  // handshake refused, ECONNREFUSED...): the error event carries the real reason.
  let socketError: Error | undefined;
  probe.on("error", (err: Error) => {
    socketError = err;
  });
  try {
    try {
      await probe.connect();
    } catch (err) {
      throw socketError ?? err;
    }
    const args = target.username !== undefined ? [target.username, target.password] : [target.password];
    try {
      await probe.call("AUTH", ...args);
      return true;
    } catch (err) {
      if (!isAuthError(err)) throw err;
      const reason = describeRedisError(err);
      try {
        await probe.ping();
      } catch (pingErr) {
        throw new RedisAuthError(
          target.display,
          `${reason}; without credentials: ${describeRedisError(pingErr)}`,
        );
      }
      safeEvent(
        onEvent ?? (() => {}),
        "warning",
        `Redis at ${target.display} refused the configured credentials (${reason}) but works without them; ` +
          "connecting without username/password",
      );
      return false;
    }
  } finally {
    probe.disconnect();
  }
}
