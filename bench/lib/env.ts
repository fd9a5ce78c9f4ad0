/**
 * What every benchmark needs: the servers (from `scripts/services.sh run`), a karton.ini for them,
 * the built `karton-system` as a child process, and figures read from /proc (CPU time, peak RSS).
 *
 * Benchmarks are plain scripts printing figures; they are run by hand (`npm run bench`), never as
 * timed assertions in tests.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";

/** The repository root (bench/ is compiled to dist/bench/, so look for package.json upwards). */
export const REPO = findRepo();

function findRepo(): string {
  const isRepo = (dir: string) =>
    existsSync(join(dir, "package.json")) && existsSync(join(dir, "scripts", "services.sh"));
  let dir = fileURLToPath(new URL(".", import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (isRepo(dir)) return dir;
    dir = resolve(dir, "..");
  }
  if (isRepo(process.cwd())) return process.cwd();
  throw new Error("cannot find the repository root (run the benchmarks from the repository)");
}

/** Where the built JavaScript lives (`npm run build`); KARTON_BENCH_DIST overrides it. */
export const DIST = resolve(process.env.KARTON_BENCH_DIST ?? join(REPO, "dist"));

export interface Services {
  redis: { host: string; port: number };
  s3: { address: string; accessKey: string; secretKey: string };
  servicesDir: string | undefined;
}

/** The servers started by `scripts/services.sh run -- ...` (KARTON_TEST_* variables). */
export function services(): Services {
  const need = [
    "KARTON_TEST_REDIS_HOST",
    "KARTON_TEST_REDIS_PORT",
    "KARTON_TEST_S3_ADDRESS",
    "KARTON_TEST_S3_ACCESS_KEY",
    "KARTON_TEST_S3_SECRET_KEY",
  ];
  const missing = need.filter((name) => !process.env[name]);
  if (missing.length > 0) {
    throw new Error(
      `benchmarks need Redis and S3: run them with \`npm run bench\` or \`bash scripts/services.sh run -- node ...\` (missing ${missing.join(", ")})`,
    );
  }
  const env = process.env as Record<string, string>;
  return {
    redis: { host: env.KARTON_TEST_REDIS_HOST as string, port: Number(env.KARTON_TEST_REDIS_PORT) },
    s3: {
      address: env.KARTON_TEST_S3_ADDRESS as string,
      accessKey: env.KARTON_TEST_S3_ACCESS_KEY as string,
      secretKey: env.KARTON_TEST_S3_SECRET_KEY as string,
    },
    servicesDir: process.env.KARTON_TEST_SERVICES_DIR,
  };
}

/** How many runs of each measurement (KARTON_BENCH_RUNS, default `fallback`). */
export function runsWanted(fallback: number): number {
  const n = Number(process.env.KARTON_BENCH_RUNS ?? fallback);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/**
 * Seconds of unmeasured sending before a steady-rate latency measurement (KARTON_BENCH_WARMUP,
 * default 15). At 200 tasks/s V8 keeps optimising the hot path for ~12 s after the start; each
 * compile job runs 1–4 ms on a worker thread, and on two vCPUs those delay the wake-ups the latency
 * is made of (p99 ~3.3 ms after 3 s of warm-up, ~1.7 ms after 20 s). A router runs for days: its
 * steady state is the compiled one.
 */
export function steadyWarmupSeconds(): number {
  const n = Number(process.env.KARTON_BENCH_WARMUP ?? 15);
  return Number.isFinite(n) && n >= 0 ? n : 15;
}

/** Redis db used by the benchmarks (flushed before each run); KARTON_BENCH_DB, default 9. */
export const BENCH_DB = Number(process.env.KARTON_BENCH_DB ?? 9);

export function adminRedis(s: Services, db = BENCH_DB): Redis {
  return new Redis({ host: s.redis.host, port: s.redis.port, db, lazyConnect: false });
}

const scratchDirs: string[] = [];

/** A scratch directory removed at exit. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `karton-bench-${prefix}-`));
  // One exit hook for all of them (one per directory passed Node's listener warning limit).
  if (scratchDirs.length === 0) {
    process.on("exit", () => {
      for (const d of scratchDirs) rmSync(d, { recursive: true, force: true });
    });
  }
  scratchDirs.push(dir);
  return dir;
}

/** A karton.ini for the benchmark servers. */
export function writeIni(
  dir: string,
  s: Services,
  options: { db?: number; bucket: string; system?: Record<string, string | number>; extra?: string[] },
): string {
  const lines = [
    "[redis]",
    `host = ${s.redis.host}`,
    `port = ${s.redis.port}`,
    `db = ${options.db ?? BENCH_DB}`,
    "[s3]",
    `address = ${s.s3.address}`,
    `access_key = ${s.s3.accessKey}`,
    `secret_key = ${s.s3.secretKey}`,
    `bucket = ${options.bucket}`,
    "[system]",
    ...Object.entries(options.system ?? {}).map(([k, v]) => `${k} = ${String(v)}`),
    ...(options.extra ?? []),
  ];
  const path = join(dir, `karton-${Math.random().toString(36).slice(2, 8)}.ini`);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

/** CPU seconds (user + system) and memory of a live process, from /proc. */
export interface ProcFigures {
  cpuSeconds: number;
  rssMb: number;
  /** VmHWM: the peak resident set size so far. */
  peakRssMb: number;
}

const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux

export function procFigures(pid: number): ProcFigures | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
    return {
      cpuSeconds: (utime + stime) / CLOCK_TICKS,
      rssMb: kb("VmRSS") / 1024,
      peakRssMb: kb("VmHWM") / 1024,
    };
  } catch {
    return null;
  }
}

/** This process's own figures. */
export function selfFigures(): ProcFigures {
  return procFigures(process.pid) as ProcFigures;
}

/** Children still running; killed when this process exits, also after a failure. */
const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/**
 * A child Node process whose stderr/stdout lines are kept (the last ones) and can be waited for.
 * It never outlives the benchmark (a karton-system left behind would route the next run's tasks).
 */
export class NodeChild {
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  /** The last output, whole lines only (bounded); partial lines are kept per stream. */
  #text = "";
  #partial = { stdout: "", stderr: "" };
  #watchers: { pattern: RegExp; resolve: (line: string) => void }[] = [];

  constructor(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("KARTON_")) env[k] = v;
    Object.assign(env, { NODE_NO_WARNINGS: "1" }, options.env ?? {});
    this.proc = spawn(process.execPath, args, {
      cwd: options.cwd ?? REPO,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    // Cheap on purpose: the children log a few lines per task, and this process is also the
    // benchmark's producer. Lines are only split while someone waits for one.
    const onData = (stream: "stdout" | "stderr", chunk: Buffer) => {
      const text = this.#partial[stream] + chunk.toString("utf8");
      const cut = text.lastIndexOf("\n");
      if (cut < 0) {
        this.#partial[stream] = text;
        return;
      }
      const complete = text.slice(0, cut + 1);
      this.#partial[stream] = text.slice(cut + 1);
      this.#text += complete;
      if (this.#text.length > 4 * 1024 * 1024) this.#text = this.#text.slice(-2 * 1024 * 1024);
      if (this.#watchers.length === 0) return;
      for (const line of complete.split("\n")) {
        for (const w of [...this.#watchers]) if (w.pattern.test(line)) w.resolve(line);
      }
    };
    this.proc.stdout?.on("data", (chunk: Buffer) => onData("stdout", chunk));
    this.proc.stderr?.on("data", (chunk: Buffer) => onData("stderr", chunk));
    running.add(this.proc);
    this.exited = new Promise((res) =>
      this.proc.on("exit", (code) => {
        running.delete(this.proc);
        res(code);
      }),
    );
  }

  get pid(): number {
    return this.proc.pid as number;
  }

  /** The last output (up to a few MB), for messages. */
  get tail(): string {
    return (this.#text + this.#partial.stdout + this.#partial.stderr).slice(-20_000);
  }

  /** Resolves with the first line that matches (lines already seen count, if still kept). */
  waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const seen = this.#text.split("\n").find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((res, rej) => {
      const timer = setTimeout(
        () => rej(new Error(`timed out waiting for ${pattern} from pid ${this.pid}:\n${this.tail}`)),
        timeoutMs,
      );
      const watcher = {
        pattern,
        resolve: (line: string) => {
          clearTimeout(timer);
          this.#watchers = this.#watchers.filter((w) => w !== watcher);
          res(line);
        },
      };
      this.#watchers.push(watcher);
      void this.exited.then((code) => {
        if (this.#watchers.includes(watcher)) {
          clearTimeout(timer);
          rej(new Error(`pid ${this.pid} exited (${code}) before printing ${pattern}:\n${this.tail}`));
        }
      });
    });
  }

  /** SIGINT, wait for the exit (SIGKILL after `graceMs`). */
  async stop(graceMs = 10_000): Promise<number | null> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.proc.exitCode;
    this.proc.kill("SIGINT");
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

/**
 * The node options a bin's shebang gives (`#!/usr/bin/env -S node <options>`): the benchmarks run
 * `karton-system` with the options it gets when started as the `karton-system` command.
 */
export function shebangNodeOptions(script: string): string[] {
  const first = readFileSync(script, "utf8").split("\n", 1)[0] ?? "";
  const match = /^#!\/usr\/bin\/env(?: -S)? node\b(.*)$/.exec(first);
  return (match?.[1] ?? "").split(" ").filter((option) => option !== "");
}

/**
 * Starts the built `karton-system` (dist/src/system/main.js, with its shebang's node options) and
 * waits until it has started.
 */
export async function startSystem(
  ini: string,
  args: string[] = [],
  options: { nodeArgs?: string[]; waitStarted?: boolean } = {},
): Promise<NodeChild> {
  const main = join(DIST, "src", "system", "main.js");
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
  // KARTON_BENCH_NODE_FLAGS: extra node options for karton-system (experiments, e.g. heap sizes).
  const extra = (process.env.KARTON_BENCH_NODE_FLAGS ?? "").split(" ").filter((f) => f !== "");
  const child = new NodeChild([
    ...shebangNodeOptions(main),
    ...extra,
    ...(options.nodeArgs ?? []),
    main,
    "--config-file",
    ini,
    ...args,
  ]);
  if (options.waitStarted !== false) await child.waitFor(/Manager \S+ started/);
  return child;
}

/** `node --cpu-prof` arguments when KARTON_BENCH_PROFILE names a directory. */
export function profileArgs(name: string): string[] {
  const dir = process.env.KARTON_BENCH_PROFILE;
  if (!dir) return [];
  return ["--cpu-prof", `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`];
}

export function sleep(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms));
}

/** Wall clock in milliseconds with sub-millisecond resolution, comparable across processes. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** CPU seconds (user + system) the Redis server has used so far (`INFO cpu`). */
export async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info("cpu");
  const get = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? 0);
  return get("used_cpu_user") + get("used_cpu_sys");
}

/**
 * Calls `send(i)` at a steady `rate` per second for `seconds` (each call scheduled on its own slot,
 * not after the previous one, so a slow call does not slow the rate); resolves when all settled.
 */
export async function paced(
  rate: number,
  seconds: number,
  send: (i: number) => Promise<void>,
): Promise<void> {
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    inFlight.push(send(i));
  }
  await Promise.all(inFlight);
}

/**
 * Ceph RGW frees the data of deleted objects only in its own garbage collection (hours later by
 * default); benchmarks that write gigabytes to the test cluster's in-memory OSD ask for it at once
 * (`radosgw-admin gc process --include-all`), when the services were started by scripts/services.sh.
 */
export function purgeDeletedObjects(s: Services): void {
  if (s.servicesDir === undefined || !existsSync(join(s.servicesDir, "ceph.conf"))) return;
  spawnSync("radosgw-admin", ["-c", join(s.servicesDir, "ceph.conf"), "gc", "process", "--include-all"], {
    stdio: "ignore",
    timeout: 120_000,
  });
}
