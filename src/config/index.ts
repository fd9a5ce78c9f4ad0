export {
  type ConfigArgs,
  type ConfigDict,
  type ConfigLoadOptions,
  KartonConfig,
  parseEnvName,
} from "./config.js";
export { type ConfigValue, toBoolean, toFloat, toInteger } from "./convert.js";
export { ConfigError, type ConfigErrorDetails, invalidValueError } from "./errors.js";
export {
  DEFAULT_SECTION,
  IniDocument,
  type IniLocation,
  type IniRawOption,
  type IniValue,
  MAX_INTERPOLATION_DEPTH,
  parseIni,
} from "./ini-parser.js";
export {
  CONFIG_DEFAULTS,
  type DashboardOptions,
  type KartonOptions,
  type LoggingOptions,
  type RedisOptions,
  type S3Options,
  type SignalingOptions,
  type SystemOptions,
} from "./options.js";
export { displayValue, isSecretOption, maskUrlCredentials, REDACTED } from "./redact.js";
export {
  type ConfigFileStatus,
  type ConfigLoadReport,
  type ConfigSource,
  describeConfigSource,
} from "./sources.js";
