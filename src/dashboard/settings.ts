/**
 * The dashboard's settings: `[dashboard]` of karton.ini (spec §10.2 plus karton-ts options),
 * overridden by command-line arguments.
 */
import type { KartonConfig } from "../config/config.js";

export interface DashboardSettings {
  /** URL prefix, normalised: "" or "/prefix" (no trailing slash). */
  basePath: string;
  /** Label → URL template with `{root_uid}` (shown on analysis and task pages). */
  xrefs: Record<string, string>;
  /** Where the server listens (default 127.0.0.1:5000). */
  listen: { host: string; port: number };
  /** Token required by state-changing requests; undefined = none. */
  token: string | undefined;
  /** How long one reading of the whole state is reused, seconds (`[dashboard] state_ttl`, default 5). */
  stateTtlSeconds: number;
  /** Rows per page of task lists (`[dashboard] page_size`, default 50). */
  pageSize: number;
  /** Interval of the pages' live refresh, seconds (`[dashboard] refresh_interval`, default 5; 0 = off). */
  refreshSeconds: number;
}

export const SETTINGS_DEFAULTS = {
  stateTtlSeconds: 5,
  pageSize: 50,
  refreshSeconds: 5,
} as const;

/** "" for "", "/" or undefined; otherwise a leading "/" and no trailing "/". */
export function normalizeBasePath(path: string | undefined): string {
  const trimmed = (path ?? "").trim().replace(/\/+$/, "");
  if (trimmed === "") return "";
  return trimmed.startsWith("/") ? trimmed : `/${trimmed}`;
}

/** Overrides from the command line (only given ones). */
export interface SettingsOverrides {
  listen?: { host: string; port: number };
  basePath?: string;
  stateTtlSeconds?: number;
}

/** Reads `[dashboard]` (throws ConfigError on invalid values) and applies the overrides. */
export function readSettings(config: KartonConfig, overrides: SettingsOverrides = {}): DashboardSettings {
  const options = config.dashboardOptions();
  const stateTtl = config.getFloat("dashboard", "state_ttl", SETTINGS_DEFAULTS.stateTtlSeconds);
  if (!(stateTtl >= 0 && stateTtl <= 3600)) {
    throw config.invalid("dashboard", "state_ttl", "a number of seconds from 0 to 3600");
  }
  const pageSize = config.getInt("dashboard", "page_size", SETTINGS_DEFAULTS.pageSize);
  if (!(pageSize >= 1 && pageSize <= 10000)) {
    throw config.invalid("dashboard", "page_size", "an integer from 1 to 10000");
  }
  const refresh = config.getFloat("dashboard", "refresh_interval", SETTINGS_DEFAULTS.refreshSeconds);
  if (!(refresh === 0 || (refresh >= 1 && refresh <= 3600))) {
    throw config.invalid("dashboard", "refresh_interval", "0 (off) or a number of seconds from 1 to 3600");
  }
  for (const [label, template] of Object.entries(options.xrefs)) {
    if (!isSafeXrefTemplate(template)) {
      throw config.invalid("dashboard", "xrefs", `http(s) or /absolute-path URL templates (not "${label}")`);
    }
  }
  return {
    basePath: normalizeBasePath(overrides.basePath ?? options.basePath),
    xrefs: options.xrefs,
    listen: overrides.listen ?? options.listen,
    token: options.token === undefined || options.token === "" ? undefined : options.token,
    stateTtlSeconds: overrides.stateTtlSeconds ?? stateTtl,
    pageSize,
    refreshSeconds: refresh,
  };
}

/** Settings for a dashboard made in code (tests, embedding), from partial values. */
export function makeSettings(partial: Partial<DashboardSettings> = {}): DashboardSettings {
  return {
    basePath: normalizeBasePath(partial.basePath),
    xrefs: partial.xrefs ?? {},
    listen: partial.listen ?? { host: "127.0.0.1", port: 5000 },
    token: partial.token === "" ? undefined : partial.token,
    stateTtlSeconds: partial.stateTtlSeconds ?? SETTINGS_DEFAULTS.stateTtlSeconds,
    pageSize: partial.pageSize ?? SETTINGS_DEFAULTS.pageSize,
    refreshSeconds: partial.refreshSeconds ?? SETTINGS_DEFAULTS.refreshSeconds,
  };
}

/** Expands an xref template: `{root_uid}` becomes the URL-encoded root uid. */
export function expandXrefs(
  xrefs: Record<string, string>,
  rootUid: string,
): { label: string; url: string }[] {
  return Object.entries(xrefs)
    .filter(([, template]) => isSafeXrefTemplate(template))
    .map(([label, template]) => ({
      label,
      url: template.split("{root_uid}").join(encodeURIComponent(rootUid)),
    }))
    .sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
}

/** Templates must be http(s) URLs or absolute paths (never `javascript:` and the like). */
export function isSafeXrefTemplate(template: string): boolean {
  return /^https?:\/\//i.test(template) || /^\/(?!\/)/.test(template);
}
