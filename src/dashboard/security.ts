/**
 * Authentication and CSRF protection of state-changing requests.
 *
 * - Every state-changing request is a POST (GET never changes anything).
 * - With `[dashboard] token` set, a POST needs the token: `Authorization: Bearer <token>`, a form
 *   field `token`, or the session cookie set by the login page (HttpOnly, SameSite=Strict, an HMAC of
 *   its expiry time keyed by the token, so it is worthless once the token changes).
 * - CSRF: a POST must carry the per-browser CSRF token (double submit: an HttpOnly, SameSite=Strict
 *   cookie set on the first page view and the same value in a hidden form field `_csrf` or the
 *   `X-CSRF-Token` header), and when the browser sends `Origin` (or, without it, `Referer`) it must
 *   be this server. A request authenticated with the Bearer header is exempt from the token check:
 *   browsers never attach that header on their own, and cross-origin scripts cannot set it (no CORS).
 * Refusals are 403 with a message saying which check failed.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";

export const CSRF_COOKIE = "karton_dashboard_csrf";
export const SESSION_COOKIE = "karton_dashboard_session";
export const CSRF_FIELD = "_csrf";
export const CSRF_HEADER = "x-csrf-token";
export const TOKEN_FIELD = "token";

/** Per-request values set by the security middleware. */
export interface DashboardVariables {
  /** The CSRF token of this browser (to put in forms). */
  csrfToken: string;
  /** True when the request carries a valid session cookie or Bearer token. */
  authenticated: boolean;
}

export type DashboardEnv = { Variables: DashboardVariables };

/** Why a request was refused. */
export type RefusalKind = "csrf" | "auth";

/** Renders a refusal (HTML page or JSON, depending on the request). */
export type RefusalRenderer = (c: Context<DashboardEnv>, kind: RefusalKind, message: string) => Response;

export interface SecurityOptions {
  /** `[dashboard] token`; undefined = actions need no token (CSRF checks still apply). */
  token: string | undefined;
  /** Cookie path: the base path, or "/". */
  cookiePath: string;
  /** Lifetime of a login session, seconds (default 12 h). */
  sessionSeconds?: number;
  refuse: RefusalRenderer;
  /** Clock in seconds (tests). */
  now?: () => number;
}

function sameText(a: string, b: string): boolean {
  // Compare digests: equal length, so timingSafeEqual never leaks the length of the secret.
  const da = createHash("sha256").update(a).digest();
  const db = createHash("sha256").update(b).digest();
  return timingSafeEqual(da, db);
}

function bearerOf(c: Context): string | undefined {
  const header = c.req.header("authorization");
  if (header === undefined) return undefined;
  const match = /^Bearer[ \t]+(.+)$/i.exec(header.trim());
  return match ? (match[1] as string).trim() : "";
}

async function formValue(c: Context, name: string): Promise<string | undefined> {
  const type = c.req.header("content-type") ?? "";
  if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(type)) return undefined;
  const body = await c.req.parseBody();
  const value = body[name];
  return typeof value === "string" ? value : undefined;
}

export class Security {
  readonly #token: string | undefined;
  readonly #sessionKey: Buffer | undefined;
  readonly #cookiePath: string;
  readonly #sessionSeconds: number;
  readonly #refuse: RefusalRenderer;
  readonly #now: () => number;

  constructor(options: SecurityOptions) {
    this.#token = options.token === "" ? undefined : options.token;
    this.#sessionKey =
      this.#token === undefined
        ? undefined
        : createHash("sha256").update(`karton-dashboard-session\0${this.#token}`).digest();
    this.#cookiePath = options.cookiePath === "" ? "/" : options.cookiePath;
    this.#sessionSeconds = options.sessionSeconds ?? 12 * 3600;
    this.#refuse = options.refuse;
    this.#now = options.now ?? (() => Date.now() / 1000);
  }

  /** Whether state-changing requests need the token. */
  get tokenRequired(): boolean {
    return this.#token !== undefined;
  }

  /** True when `given` is the configured token (constant time). */
  checkToken(given: string | undefined): boolean {
    return this.#token !== undefined && given !== undefined && sameText(given, this.#token);
  }

  #sessionMac(expires: number): string {
    return createHmac("sha256", this.#sessionKey as Buffer)
      .update(`session:${expires}`)
      .digest("base64url");
  }

  /** A new session cookie value: `v1.<expiry>.<hmac>`. */
  newSession(): string {
    const expires = Math.floor(this.#now()) + this.#sessionSeconds;
    return `v1.${expires}.${this.#sessionMac(expires)}`;
  }

  checkSession(value: string | undefined): boolean {
    if (this.#sessionKey === undefined || value === undefined) return false;
    const match = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value);
    if (!match) return false;
    const expires = Number(match[1]);
    if (expires <= this.#now()) return false;
    return sameText(match[2] as string, this.#sessionMac(expires));
  }

  #cookieOptions(c: Context, maxAge?: number) {
    const secure = new URL(c.req.url).protocol === "https:";
    return {
      path: this.#cookiePath,
      httpOnly: true,
      sameSite: "Strict" as const,
      secure,
      ...(maxAge !== undefined ? { maxAge } : {}),
    };
  }

  /** Sets the session cookie (after a successful login). */
  startSession(c: Context): void {
    setCookie(c, SESSION_COOKIE, this.newSession(), this.#cookieOptions(c, this.#sessionSeconds));
  }

  endSession(c: Context): void {
    deleteCookie(c, SESSION_COOKIE, this.#cookieOptions(c));
  }

  /**
   * Runs on every request: makes sure the browser has a CSRF cookie and tells handlers whether the
   * request is authenticated.
   */
  middleware(): MiddlewareHandler<DashboardEnv> {
    return async (c, next) => {
      let csrf = getCookie(c, CSRF_COOKIE);
      if (csrf === undefined || !/^[A-Za-z0-9_-]{32,64}$/.test(csrf)) {
        csrf = randomBytes(32).toString("base64url");
        setCookie(c, CSRF_COOKIE, csrf, this.#cookieOptions(c));
      }
      c.set("csrfToken", csrf);
      const bearer = bearerOf(c);
      c.set(
        "authenticated",
        (bearer !== undefined && this.checkToken(bearer)) || this.checkSession(getCookie(c, SESSION_COOKIE)),
      );
      await next();
    };
  }

  /** Origin/Referer must name this server when present. Returns a refusal message or null. */
  #originProblem(c: Context): string | null {
    const url = new URL(c.req.url);
    const hosts = new Set([url.host.toLowerCase()]);
    const forwarded = c.req.header("x-forwarded-host");
    if (forwarded) hosts.add(forwarded.split(",")[0]!.trim().toLowerCase());
    const origin = c.req.header("origin");
    if (origin !== undefined) {
      let host: string | undefined;
      try {
        host = origin === "null" ? undefined : new URL(origin).host.toLowerCase();
      } catch {
        host = undefined;
      }
      if (host === undefined || !hosts.has(host)) {
        return `CSRF check failed: the request comes from another site (Origin: ${origin})`;
      }
      return null;
    }
    const referer = c.req.header("referer");
    if (referer !== undefined) {
      let host: string | undefined;
      try {
        host = new URL(referer).host.toLowerCase();
      } catch {
        host = undefined;
      }
      if (host === undefined || !hosts.has(host)) {
        return "CSRF check failed: the request comes from another site (Referer does not match this server)";
      }
    }
    return null;
  }

  /** The CSRF token check alone. Returns a refusal message or null. */
  async #csrfProblem(c: Context<DashboardEnv>): Promise<string | null> {
    const cookie = getCookie(c, CSRF_COOKIE);
    const sent = c.req.header(CSRF_HEADER) ?? (await formValue(c, CSRF_FIELD));
    if (cookie === undefined) {
      return "CSRF check failed: no CSRF cookie; open the page again (cookies must be enabled) and retry";
    }
    if (sent === undefined || sent === "") {
      return `CSRF check failed: missing CSRF token (form field "${CSRF_FIELD}" or header X-CSRF-Token)`;
    }
    if (!sameText(sent, cookie)) {
      return "CSRF check failed: wrong CSRF token; reload the page and try again";
    }
    return null;
  }

  /** Guards a state-changing route: Origin/Referer, then the token (when configured), then CSRF. */
  protect(): MiddlewareHandler<DashboardEnv> {
    return async (c, next) => {
      const origin = this.#originProblem(c);
      if (origin !== null) return this.#refuse(c, "csrf", origin);
      const bearer = bearerOf(c);
      if (bearer !== undefined && this.#token !== undefined) {
        if (!this.checkToken(bearer)) {
          return this.#refuse(c, "auth", "Forbidden: wrong dashboard token in the Authorization header");
        }
        await next();
        return;
      }
      const csrf = await this.#csrfProblem(c);
      if (csrf !== null) return this.#refuse(c, "csrf", csrf);
      if (this.#token !== undefined && !c.get("authenticated")) {
        const given = await formValue(c, TOKEN_FIELD);
        if (given === undefined || given === "") {
          return this.#refuse(
            c,
            "auth",
            "Forbidden: this action needs the dashboard token ([dashboard] token): log in, or send " +
              "Authorization: Bearer <token>",
          );
        }
        if (!this.checkToken(given)) return this.#refuse(c, "auth", "Forbidden: wrong dashboard token");
      }
      await next();
    };
  }

  /** Guards login/logout: Origin/Referer and CSRF only (a login form cannot be posted cross-site). */
  csrfOnly(): MiddlewareHandler<DashboardEnv> {
    return async (c, next) => {
      const origin = this.#originProblem(c);
      if (origin !== null) return this.#refuse(c, "csrf", origin);
      const csrf = await this.#csrfProblem(c);
      if (csrf !== null) return this.#refuse(c, "csrf", csrf);
      await next();
    };
  }
}
