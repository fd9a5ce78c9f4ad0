#!/usr/bin/env -S node --max-semi-space-size=8
/**
 * `karton-system`: the Karton broker (router, garbage collector, claim recovery).
 * Usage: `karton-system [--config-file PATH] [--setup-bucket] [--disable-gc] [--disable-router] ...`
 * (see `karton-system --help` and docs/system.md).
 *
 * The shebang caps V8's young generation at 8 MB per semi-space (Node 20 grows it to 16 MB under a
 * GC pass's allocation rate): ~20 MB less peak memory, same routing and GC speed (docs/performance.md).
 */
import { SystemService } from "./system-service.js";

const code = await SystemService.run(process.argv);
process.exit(code);
