#!/usr/bin/env node
/**
 * `karton-dashboard`: the web UI, JSON API and Prometheus metrics over the Redis and S3 shared by
 * Python and TypeScript Karton services (docs/dashboard.md).
 *
 * Usage: karton-dashboard [--config-file PATH] [--listen HOST:PORT] [--base-path PATH]
 *                         [--log-level LEVEL] [--state-ttl SECONDS]
 */
import { runDashboard } from "./cli.js";

process.exit(await runDashboard(process.argv));
