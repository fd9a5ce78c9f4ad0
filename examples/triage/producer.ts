/**
 * Submits samples to the triage pipeline: every file of a directory, or the generated samples of
 * ./samples.ts. Each file becomes one analysis: a `{type: "sample", kind: "raw"}` task with the file
 * as payload `sample`.
 *
 * ```
 * node dist/examples/triage/producer.js [--config-file karton.ini] [--identity ID] [DIRECTORY]
 * ```
 * prints one line per sample: `submitted <root uid> <name>`.
 */
import { parseArgs } from "node:util";
import { KartonConfig, Producer, Resource, Task } from "../../src/index.js";
import { isMainModule } from "./is-main.js";
import { generateSamples, readSampleDirectory, type Sample } from "./samples.js";

export const PRODUCER_IDENTITY = "karton.triage-producer";

/** One submitted sample. */
export interface Submitted {
  name: string;
  /** Uid of the submitted task; its root uid names the analysis. */
  uid: string;
  rootUid: string;
}

/** The task submitting one sample. */
export function sampleTask(sample: Sample): Task {
  const resource =
    sample.path !== undefined
      ? Resource.fromFile(sample.name, sample.path)
      : Resource.fromBytes(sample.name, sample.data ?? Buffer.alloc(0));
  return new Task({ type: "sample", kind: "raw", quality: "high" }, { payload: { sample: resource } });
}

/** Sends one task per sample, in order. */
export async function submitSamples(producer: Producer, samples: readonly Sample[]): Promise<Submitted[]> {
  const out: Submitted[] = [];
  for (const sample of samples) {
    const task = sampleTask(sample);
    await producer.sendTask(task);
    out.push({ name: sample.name, uid: task.uid, rootUid: task.rootUid });
  }
  return out;
}

const USAGE = "usage: producer [--config-file PATH] [--identity ID] [DIRECTORY]";

function parseCommandLine(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      "config-file": { type: "string" },
      identity: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(`${USAGE}\nSubmits every file of DIRECTORY (default: generated samples).\n`);
    return 0;
  }
  if (parsed.positionals.length > 1) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  let producer: Producer;
  try {
    const configFile = parsed.values["config-file"];
    const config = KartonConfig.load(configFile !== undefined ? { path: configFile } : {});
    producer = new Producer({ config, identity: parsed.values.identity ?? PRODUCER_IDENTITY });
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    return 2;
  }
  try {
    const directory = parsed.positionals[0];
    const samples = directory !== undefined ? await readSampleDirectory(directory) : await generateSamples();
    for (const sent of await submitSamples(producer, samples)) {
      process.stdout.write(`submitted ${sent.rootUid} ${sent.name}\n`);
    }
    return 0;
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await producer.close();
  }
}

if (isMainModule(import.meta.url)) process.exit(await main(process.argv.slice(2)));
