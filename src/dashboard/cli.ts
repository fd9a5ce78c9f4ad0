/**
 * The `karton-dashboard` command line (src/dashboard/main.ts runs it): options, configuration,
 * backend, HTTP server, signals. See docs/dashboard.md.
 */
import { Command, CommanderError, InvalidArgumentError } from "commander";
import type { KartonBackend } from "../backend/backend.js";
import { createBackend } from "../backend/create-backend.js";
import { KartonConfig } from "../config/config.js";
import { ConfigError } from "../config/errors.js";
import { ConsoleHandler, Logger } from "../service/logging.js";
import { LIBRARY_VERSION } from "../version.js";
import { createDashboardApp } from "./app.js";
import { type RunningServer, startServer } from "./server.js";
import { readSettings, type SettingsOverrides } from "./settings.js";

export const DASHBOARD_IDENTITY = "karton.dashboard";

/** The extended client name (spec §1.3): `karton.dashboard?karton_version=…&service_version=…`. */
export function dashboardClientName(): string {
  const params = new URLSearchParams({ karton_version: LIBRARY_VERSION, service_version: LIBRARY_VERSION });
  return `${DASHBOARD_IDENTITY}?${params.toString()}`;
}

function argsParser(): Command {
  return new Command()
    .name("karton-dashboard")
    .description("Karton dashboard: web UI, JSON API and Prometheus metrics (/metrics, /varz)")
    .version(LIBRARY_VERSION, "--version", "Print the version and exit")
    .option("--config-file <path>", "Alternative configuration path")
    .option("--listen <host:port>", "Address to listen on ([dashboard] listen, default 127.0.0.1:5000)")
    .option("--base-path <path>", "URL prefix the dashboard is served under ([dashboard] base_path)")
    .option("--log-level <level>", "Logging level (DEBUG, INFO, WARNING, ERROR...)")
    .option(
      "--state-ttl <seconds>",
      "Reuse one reading of the whole state for this long (default 5)",
      (value) => {
        const n = Number(value);
        if (!/^\d+(\.\d+)?$/.test(value.trim()) || n > 3600) {
          throw new InvalidArgumentError("expected a number of seconds from 0 to 3600");
        }
        return n;
      },
    );
}

/** Runs the dashboard until SIGINT/SIGTERM; returns the exit code (0 ok, 1 fatal, 2 usage/config). */
export async function runDashboard(argv: readonly string[] = process.argv): Promise<number> {
  const parser = argsParser().exitOverride();
  let args: Record<string, unknown>;
  try {
    parser.parse([...argv], { from: "node" });
    args = parser.opts();
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    throw error;
  }
  const log = new Logger(DASHBOARD_IDENTITY);
  log.addHandler(new ConsoleHandler());
  let config: KartonConfig;
  let settings: ReturnType<typeof readSettings>;
  try {
    config = KartonConfig.load(typeof args.configFile === "string" ? { path: args.configFile } : {});
    config.loadFromDict({
      logging: { level: args.logLevel as string | undefined },
      dashboard: {
        listen: args.listen as string | undefined,
        base_path: args.basePath as string | undefined,
      },
    });
    log.level = config.loggingOptions().levelNumber;
    const overrides: SettingsOverrides = {};
    if (typeof args.stateTtl === "number") overrides.stateTtlSeconds = args.stateTtl;
    settings = readSettings(config, overrides);
  } catch (error) {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return error instanceof ConfigError || (error as { code?: unknown }).code === "CONFIG_ERROR" ? 2 : 1;
  }

  let backend: KartonBackend;
  try {
    backend = createBackend(config, {
      identity: DASHBOARD_IDENTITY,
      clientName: dashboardClientName(),
      onEvent: (event) =>
        log[event.level === "debug" ? "debug" : event.level === "info" ? "info" : "warning"](event.message),
    });
  } catch (error) {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }

  let server: RunningServer | undefined;
  try {
    await backend.ping();
    const dashboard = createDashboardApp({ backend, settings, log });
    server = await startServer(dashboard.fetch, settings.listen, (error) =>
      log.error(`request failed: ${error instanceof Error ? error.message : String(error)}`),
    );
    log.info(
      `karton-dashboard ${LIBRARY_VERSION} listening on ${server.origin}${settings.basePath}/ ` +
        `(state cache ${settings.stateTtlSeconds} s, actions ${settings.token === undefined ? "without token" : "need the token"})`,
    );
    if (
      settings.listen.host !== "127.0.0.1" &&
      settings.listen.host !== "::1" &&
      settings.listen.host !== "localhost" &&
      settings.token === undefined
    ) {
      log.warning(
        "listening beyond localhost without [dashboard] token: anyone who can reach it can restart and cancel tasks",
      );
    }
    log.debug(`configuration: ${JSON.stringify(config.redacted())}`);
  } catch (error) {
    log.critical(`karton-dashboard cannot start: ${error instanceof Error ? error.message : String(error)}`);
    await server?.close();
    await backend.close().catch(() => undefined);
    return 1;
  }

  const running = server;
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info(`${signal} received, stopping`);
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      resolve();
    };
    const onInt = () => stop("SIGINT");
    const onTerm = () => stop("SIGTERM");
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
  });
  await running.close();
  await backend.close().catch(() => undefined);
  return 0;
}
