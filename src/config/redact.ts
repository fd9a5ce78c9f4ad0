/**
 * Keeping secrets out of error messages, logs and debug output.
 *
 * A value is secret when its option is one of Karton's credential options (`[redis] password`,
 * `[s3] secret_key`, `[minio] secret_key`, `[dashboard] token`) or, for options of any section
 * (services keep their own credentials in karton.ini, e.g. `[mwdb] api_key`), when its name looks
 * like a credential: a `_`/`-`/`.`-separated word `password`, `passwd`, `secret`, `token`,
 * `credential(s)`, or a name ending in `api_key`, `apikey` or `private_key`.
 *
 * Passwords embedded in URLs (`redis://user:pw@host`) are masked wherever they appear.
 */

/** Replacement text used for secret values. */
export const REDACTED = "***";

const KNOWN_SECRETS: ReadonlySet<string> = new Set([
  "redis password",
  "s3 secret_key",
  "minio secret_key",
  "dashboard token",
]);

const SECRET_WORDS: ReadonlySet<string> = new Set([
  "password",
  "passwd",
  "secret",
  "token",
  "credential",
  "credentials",
]);

/** True when the value of `[section] option` must never be shown. */
export function isSecretOption(section: string, option: string): boolean {
  const name = option.toLowerCase();
  if (KNOWN_SECRETS.has(`${section.toLowerCase()} ${name}`)) return true;
  if (name.split(/[_.-]/).some((word) => SECRET_WORDS.has(word))) return true;
  return /(?:api_?key|private_key)$/.test(name);
}

// scheme://user:password@ — the password is anything up to the last "@" before the path.
const URL_USERINFO = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/@:]*:)([^/]*)@/;

/** Replaces the password part of `scheme://user:password@host...` by {@link REDACTED}. */
export function maskUrlCredentials(value: string): string {
  const match = URL_USERINFO.exec(value);
  if (!match || match[2] === "") return value;
  return match[1] + REDACTED + value.slice(match[0].length - 1);
}

/** A value as it may appear in a message: quoted, secrets hidden, URL passwords masked. */
export function displayValue(section: string, option: string, value: unknown): string {
  if (isSecretOption(section, option)) return "<hidden>";
  if (typeof value === "string") return JSON.stringify(maskUrlCredentials(value));
  return String(value);
}
