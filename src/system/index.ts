export { GarbageCollector, type GcBackend, type GcOptions, type GcPassStats } from "./gc.js";
export { deletionEntries, forEachReferencedKey } from "./gc-resources.js";
export {
  type GcAction,
  type GcContext,
  type GcDecision,
  type GcRule,
  type GcTaskView,
  gcDecision,
  STARTED_TIMEOUT_ERROR,
} from "./gc-rules.js";
export { QuarantineReporter } from "./quarantine.js";
export { deadConsumerReason, Recovery, type RecoveryOptions, type RecoveryStats } from "./recovery.js";
export {
  BindsCompiler,
  type CompiledBind,
  type CompiledBinds,
  type FilterCompiler,
  type FilterMatcher,
  type FilterValidator,
  type InvalidBind,
  planRoute,
  type RouteOptions,
  type RouteOutcome,
} from "./route.js";
export { type BatchResult, Router, type RouterOptions } from "./router.js";
export {
  effectiveConfigMessage,
  MissingBucketError,
  SystemService,
  type SystemServiceOptions,
  type SystemTuning,
} from "./system-service.js";
