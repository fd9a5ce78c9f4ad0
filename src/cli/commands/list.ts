/**
 * `karton list [-o table|json] [--json]`: the binds. `-o table` and `-o json` are byte-identical to
 * Python karton-core 5.9.1; `--json` is karton-ts's machine-readable form (identity, replicas,
 * persistence, versions, queue depths).
 */
import { Option } from "commander";
import { serializeBind } from "../../bind/bind.js";
import { KartonState } from "../../inspect/state.js";
import type { CliContext } from "../context.js";
import { EXIT_OK, type ExitCode } from "../errors.js";
import { ljust } from "../format.js";
import type { Registrar } from "../program.js";

export interface ListOptions {
  output: "table" | "json";
  json?: boolean;
}

export const registerList: Registrar = (program, act) => {
  program
    .command("list")
    .description("List active karton binds")
    .addOption(
      new Option("-o, --output <format>", "output format, as the Python karton CLI")
        .choices(["table", "json"])
        .default("table"),
    )
    .addOption(
      new Option(
        "--json",
        "machine-readable JSON with identity, replicas, queue depths (karton-ts)",
      ).conflicts("output"),
    )
    .action(act((ctx, options: ListOptions) => runList(ctx, options)));
};

export async function runList(ctx: CliContext, options: ListOptions): Promise<ExitCode> {
  return await ctx.withBackend(async (backend) => {
    if (options.json) {
      const state = await KartonState.load(backend, { tasks: false });
      ctx.json([
        ...state.binds.map((bind) => {
          const lengths = state.queues.get(bind.identity)?.lengths ?? null;
          return {
            identity: bind.identity,
            version: bind.version,
            service_version: bind.serviceVersion,
            persistent: bind.persistent,
            is_async: bind.isAsync,
            info: bind.info,
            filters: bind.filters,
            replicas: state.replicas.get(bind.identity) ?? 0,
            queues: lengths,
          };
        }),
        ...state.invalidBinds.map((invalid) => ({
          identity: invalid.identity,
          invalid: invalid.reason,
          raw: invalid.raw,
          replicas: state.replicas.get(invalid.identity) ?? 0,
          queues: state.queues.get(invalid.identity)?.lengths ?? null,
        })),
      ]);
      return EXIT_OK;
    }
    const { binds, invalid } = await backend.getBinds();
    for (const bad of invalid) ctx.err(`warning: skipping unreadable bind of ${bad.identity}: ${bad.reason}`);
    if (options.output === "json") {
      for (const bind of binds) ctx.out(serializeBind(bind));
      return EXIT_OK;
    }
    ctx.out(`${ljust("karton name", 50)} ${ljust("version", 10)} ${ljust("karton", 10)}`);
    ctx.out("-".repeat(72));
    for (const bind of binds) {
      ctx.out(
        `${ljust(bind.identity, 50)} ${ljust(bind.serviceVersion ?? "-", 10)} ${ljust(bind.version, 10)}`,
      );
    }
    return EXIT_OK;
  });
}
