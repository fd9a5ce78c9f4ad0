#!/usr/bin/env node
/**
 * `karton-system`: the Karton broker (router, garbage collector, claim recovery).
 * Usage: `karton-system [--config-file PATH] [--setup-bucket] [--disable-gc] [--disable-router] ...`
 * (see `karton-system --help` and docs/system.md).
 */
import { SystemService } from "./system-service.js";

const code = await SystemService.run(process.argv);
process.exit(code);
