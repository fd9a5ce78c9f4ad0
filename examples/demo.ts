/**
 * The karton-ts demo: a small malware-triage pipeline, end to end, in one process.
 *
 *   npm ci && npm run demo
 *
 * karton-system (router, garbage collector, claim recovery), three services — karton.classifier
 * (magic bytes), karton.archive-extractor (safe zip extraction, nested archives) and
 * karton.triage-reporter — and a producer submitting samples, all on the embedded backend: no Redis,
 * no S3. While it runs it shows progress; at the end it prints one tree per analysis.
 *
 * Options:
 *   --samples DIR   submit the files of DIR instead of the generated samples
 *   --config FILE   use the deployment of this karton.ini (Redis + S3) instead of the embedded backend
 *   --submit-only   with --config: only submit and watch; karton-system and the services run as their
 *                   own processes (see examples/README.md)
 *   --timeout SEC   give up after SEC seconds (default 60; exit status 1)
 *   --verbose       service logs at INFO (default: WARNING and above)
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { type Consumer, KartonConfig, Producer, SystemService } from "../src/index.js";
import { ArchiveExtractor } from "./triage/archive-extractor.js";
import { Classifier } from "./triage/classifier.js";
import { PRODUCER_IDENTITY, type Submitted, submitSamples } from "./triage/producer.js";
import { Reporter } from "./triage/reporter.js";
import {
  buildTriageView,
  readAnalysisTasks,
  renderSampleTree,
  type TriageView,
} from "./triage/sample-tree.js";
import { generateSamples, readSampleDirectory } from "./triage/samples.js";

const SERVICES = [Classifier, ArchiveExtractor, Reporter] as const;
const POLL_MS = 50;
const USAGE = `usage: demo [--samples DIR] [--config FILE [--submit-only]] [--timeout SECONDS] [--verbose]`;

interface Options {
  samples: string | undefined;
  config: string | undefined;
  submitOnly: boolean;
  timeoutMs: number;
  verbose: boolean;
}

function parseOptions(argv: string[]): Options | number {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        samples: { type: "string" },
        config: { type: "string" },
        "submit-only": { type: "boolean" },
        timeout: { type: "string" },
        verbose: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const timeout = values.timeout === undefined ? 60 : Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) {
    process.stderr.write(`--timeout must be a positive number of seconds\n${USAGE}\n`);
    return 2;
  }
  if (values["submit-only"] && values.config === undefined) {
    process.stderr.write(`--submit-only needs --config (the services run elsewhere)\n${USAGE}\n`);
    return 2;
  }
  return {
    samples: values.samples as string | undefined,
    config: values.config as string | undefined,
    submitOnly: values["submit-only"] === true,
    timeoutMs: timeout * 1000,
    verbose: values.verbose === true,
  };
}

/** Terminal output: a live status line on a TTY, plain lines otherwise; colours unless NO_COLOR. */
class Screen {
  readonly tty = process.stdout.isTTY === true;
  readonly colour = this.tty && !process.env.NO_COLOR;
  #live = false;
  #frame = 0;

  paint(code: string, text: string): string {
    return this.colour ? `\x1b[${code}m${text}\x1b[0m` : text;
  }

  /** A permanent line (clears the live line first). */
  line(text = ""): void {
    this.clear();
    process.stdout.write(`${text}\n`);
  }

  /** Replaces the live line (TTY only). */
  status(text: string): void {
    if (!this.tty) return;
    const spinner = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"[this.#frame++ % 10];
    process.stdout.write(`\r\x1b[2K${this.paint("36", spinner as string)} ${text}`);
    this.#live = true;
  }

  clear(): void {
    if (this.#live) process.stdout.write("\r\x1b[2K");
    this.#live = false;
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)}s`;
}

function buildConfig(options: Options): KartonConfig {
  const logging = { level: options.verbose ? "INFO" : "WARNING" };
  if (options.config !== undefined) {
    const config = KartonConfig.load({ path: options.config });
    config.loadFromDict({ logging });
    return config;
  }
  // Embedded backend: a store of this process; logs stay on the console (nobody listens to them).
  return KartonConfig.fromDict({
    karton: { backend: "embedded" },
    embedded: { name: `karton-ts-demo-${process.pid}` },
    logging: { ...logging, enable_publish: false },
  });
}

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  if (typeof options === "number") return options;
  const screen = new Screen();
  const started = performance.now();
  const elapsed = () => seconds(performance.now() - started);

  let config: KartonConfig;
  try {
    config = buildConfig(options);
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    return 2;
  }
  const where =
    options.config === undefined
      ? "embedded backend (one process, no Redis, no S3)"
      : `the deployment of ${options.config}${options.submitOnly ? " (services running elsewhere)" : ""}`;
  screen.line(screen.paint("1", `karton-ts demo: triage pipeline on the ${where}`));

  // ---- start karton-system and the services -------------------------------------------------------
  const abort = new AbortController();
  let system: SystemService | undefined;
  let systemRun: Promise<number> | undefined;
  const services: Consumer[] = [];
  const loops: Promise<unknown>[] = [];
  const producer = new Producer({ config, identity: PRODUCER_IDENTITY });
  let shuttingDown: Promise<void> | undefined;
  const shutdown = () => {
    shuttingDown ??= (async () => {
      abort.abort();
      system?.stop();
      await Promise.allSettled(loops);
      await systemRun;
      await Promise.allSettled([...services.map((s) => s.close()), system?.close(), producer.close()]);
    })();
    return shuttingDown;
  };
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    screen.line("interrupted, stopping...");
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    if (!options.submitOnly) {
      system = new SystemService({ config, setupBucket: true });
      systemRun = system.serve({ handleSignals: false });
      for (const Service of SERVICES) {
        const service = new Service({ config });
        services.push(service);
        loops.push(
          service.loop({ handleSignals: false, signal: abort.signal }).catch((error: unknown) => {
            screen.line(screen.paint("31", `${service.identity} stopped: ${(error as Error).message}`));
          }),
        );
      }
    }
    // Tasks routed before a service registered its bind would not reach it: wait for the binds.
    const deadline = performance.now() + (options.submitOnly ? options.timeoutMs : 15_000);
    for (const Service of SERVICES) {
      while ((await producer.backend.getBind(Service.identity)) === null) {
        if (interrupted) return 130;
        if (performance.now() > deadline) {
          screen.line(screen.paint("31", `${Service.identity} is not running (no bind registered)`));
          return 1;
        }
        screen.status(`waiting for ${Service.identity}...`);
        await sleep(POLL_MS);
      }
    }
    screen.line(
      `${options.submitOnly ? "found" : "started"} karton-system, ${SERVICES.map((s) => s.identity).join(", ")} (${elapsed()})`,
    );

    // ---- submit -------------------------------------------------------------------------------------
    const samples =
      options.samples !== undefined ? await readSampleDirectory(options.samples) : await generateSamples();
    if (samples.length === 0) {
      screen.line("no samples to submit");
      return 0;
    }
    const submittedAt = performance.now();
    const submitted = await submitSamples(producer, samples);
    screen.line(`submitted ${submitted.length} sample(s): ${submitted.map((s) => s.name).join(", ")}`);

    // ---- watch --------------------------------------------------------------------------------------
    const views = await watch(producer, submitted, options, screen, elapsed);
    const doneAt = performance.now();
    const all = [...views.values()];
    const done = all.filter((v) => v.pending === 0).length;
    const tasks = all.reduce((n, v) => n + v.tasks, 0);
    const crashed = all.reduce((n, v) => n + v.crashed, 0);
    const complete = done === submitted.length;

    // ---- the trees ----------------------------------------------------------------------------------
    screen.line();
    submitted.forEach((sent, i) => {
      const view = views.get(sent.rootUid);
      screen.line(
        screen.paint(
          "2",
          `analysis ${i + 1}/${submitted.length} · root ${sent.rootUid} · ${view?.tasks ?? 0} tasks`,
        ),
      );
      screen.line(
        view?.sample
          ? renderSampleTree(view.sample, { colour: screen.colour })
          : `${sent.name}  (no task found)`,
      );
      screen.line();
    });
    const summary =
      `${done}/${submitted.length} analyses done: ${tasks} tasks, ${crashed} crashed; ` +
      `pipeline ${seconds(doneAt - submittedAt)}, total ${elapsed()}`;
    screen.line(screen.paint(complete && crashed === 0 ? "32" : "33", summary));
    const reporter = services.find((s): s is Reporter => s instanceof Reporter);
    if (reporter) {
      const reported = [...reporter.results.values()].reduce((n, list) => n + list.length, 0);
      screen.line(`karton.triage-reporter collected ${reported} classified sample(s)`);
    }
    if (interrupted) return 130;
    return complete ? 0 : 1;
  } catch (error) {
    screen.line(screen.paint("31", `error: ${(error as Error).stack ?? String(error)}`));
    return 1;
  } finally {
    screen.clear();
    await shutdown();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls the analyses until each is complete: every task Finished or Crashed in two consecutive
 * reads over the same tasks (a read lists the documents, then fetches them, so a task created in
 * between is only seen by the next read; a finished task never changes again).
 */
async function watch(
  producer: Producer,
  submitted: readonly Submitted[],
  options: Options,
  screen: Screen,
  elapsed: () => string,
): Promise<Map<string, TriageView>> {
  const views = new Map<string, TriageView>();
  const settled = new Map<string, string>();
  const finished = new Set<string>();
  const deadline = performance.now() + options.timeoutMs;
  while (finished.size < submitted.length) {
    for (const sent of submitted) {
      if (finished.has(sent.rootUid)) continue;
      const tasks = await readAnalysisTasks(producer.backend, sent.rootUid);
      const view = buildTriageView(sent.rootUid, tasks);
      views.set(sent.rootUid, view);
      const signature = tasks
        .map((t) => t.uid)
        .sort()
        .join(",");
      if (view.tasks > 0 && view.pending === 0) {
        if (settled.get(sent.rootUid) === signature) {
          finished.add(sent.rootUid);
          const note = view.crashed > 0 ? screen.paint("31", `, ${view.crashed} crashed`) : "";
          screen.line(`[${elapsed()}] ${sent.name}: done (${view.tasks} tasks${note})`);
        } else {
          settled.set(sent.rootUid, signature);
        }
      } else {
        settled.delete(sent.rootUid);
      }
    }
    const all = [...views.values()];
    const tasks = all.reduce((n, v) => n + v.tasks, 0);
    const inFlight = all.reduce((n, v) => n + v.pending, 0);
    const crashed = all.reduce((n, v) => n + v.crashed, 0);
    screen.status(
      `${elapsed()}  analyses ${finished.size}/${submitted.length} done · ${tasks} tasks` +
        ` (${inFlight} in flight, ${crashed} crashed)`,
    );
    if (finished.size === submitted.length) break;
    if (performance.now() > deadline) {
      screen.line(screen.paint("31", `timed out after ${options.timeoutMs / 1000} s`));
      break;
    }
    await sleep(POLL_MS);
  }
  return views;
}

process.exit(await main(process.argv.slice(2)));
