/**
 * The dashboard web application (Hono): pages, JSON API, actions, resource downloads, metrics.
 * Everything it knows comes from `KartonBackend` operations and the read model in src/inspect.
 */
import { Readable } from "node:stream";
import { type Context, Hono } from "hono";
import type { KartonBackend } from "../backend/backend.js";
import {
  cancelCrashed,
  cancelPending,
  cancelTask,
  findTask,
  InspectError,
  loadAnalysis,
  restartCrashed,
  restartTask,
} from "../inspect/index.js";
import type { JsonObject } from "../json/values.js";
import { nowSeconds } from "../task/task.js";
import {
  analysisJson,
  apiJson,
  graphJson,
  pageJson,
  queueJson,
  resourcesJson,
  servicesJson,
  summaryJson,
  taskJson,
} from "./api.js";
import { SCRIPT, SCRIPT_VERSION, STYLESHEET, STYLESHEET_VERSION } from "./assets.js";
import { buildGraph } from "./graph.js";
import type { PageContext } from "./layout.js";
import { DashboardMetrics } from "./metrics.js";
import { renderAnalysisPage } from "./pages/analysis.js";
import { renderGraphPage } from "./pages/graph.js";
import { renderErrorPage, renderLoginPage } from "./pages/misc.js";
import { renderQueuePage } from "./pages/queue.js";
import { renderQueuesPage } from "./pages/queues.js";
import { renderServicesPage } from "./pages/services.js";
import { renderTaskPage, renderUnreadableTaskPage } from "./pages/task.js";
import { parsePage, searchAndPaginate } from "./paginate.js";
import { contentDisposition, downloadName, findTaskResource, taskResources } from "./resources.js";
import { type DashboardEnv, type RefusalKind, Security } from "./security.js";
import { type DashboardSettings, expandXrefs } from "./settings.js";
import { type DashboardSnapshot, loadSnapshot } from "./snapshot.js";
import { TtlCache } from "./state-cache.js";

/** Where the dashboard reports (a service Logger fits). */
export interface DashboardLogger {
  debug(message: string): void;
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
}

const SILENT: DashboardLogger = { debug() {}, info() {}, warning() {}, error() {} };

export interface DashboardAppOptions {
  backend: KartonBackend;
  settings: DashboardSettings;
  log?: DashboardLogger;
}

export interface DashboardApp {
  /** The Hono application (`app.fetch` serves a web `Request`). */
  readonly app: Hono<DashboardEnv>;
  readonly fetch: (request: Request) => Promise<Response>;
  readonly metrics: DashboardMetrics;
  /** The shared state reading (TTL + single flight). */
  readonly snapshots: TtlCache<DashboardSnapshot>;
}

/** Fixed notice texts shown after an action (nothing from the URL is echoed). */
const NOTICES: Record<string, (n: number) => string> = {
  restarted: () => "Task restarted: this new task is queued again; the old one was set Finished.",
  cancelled: () => "Task cancelled (set Finished).",
  restarted_crashed: (n) => `Restarted ${n} crashed task(s).`,
  cancelled_crashed: (n) => `Cancelled ${n} crashed task(s).`,
  cancelled_pending: (n) => `Cancelled ${n} pending task(s).`,
};

class HttpError extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 409 | 422 | 500 | 502,
    readonly title: string,
    message: string,
  ) {
    super(message);
  }
}

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

function wantsJson(c: Context): boolean {
  if (new URL(c.req.url).pathname.includes("/api/")) return true;
  const accept = c.req.header("accept") ?? "";
  return accept.includes("application/json") && !accept.includes("text/html");
}

/** A path below the base that is safe to redirect to ("/..." only, never "//host" or "\\"). */
export function safeNext(next: string | undefined): string | undefined {
  if (next === undefined || next === "") return undefined;
  if (!next.startsWith("/") || next.startsWith("//") || next.includes("\\") || /[\u0000-\u001f]/.test(next)) {
    return undefined;
  }
  return next;
}

export function createDashboardApp(options: DashboardAppOptions): DashboardApp {
  const { backend, settings } = options;
  const log = options.log ?? SILENT;
  const base = settings.basePath;
  const snapshots = new TtlCache(() => loadSnapshot(backend), settings.stateTtlSeconds * 1000);
  const outputs = new TtlCache(() => backend.getOutputs(), settings.stateTtlSeconds * 1000);
  const metrics = new DashboardMetrics();

  const pageContext = (c: Context<DashboardEnv>): PageContext => {
    const url = new URL(c.req.url);
    const below = url.pathname.startsWith(base) ? url.pathname.slice(base.length) || "/" : url.pathname;
    return {
      base,
      csrfToken: c.get("csrfToken") ?? "",
      tokenRequired: security.tokenRequired,
      authenticated: c.get("authenticated") ?? false,
      refreshSeconds: settings.refreshSeconds,
      now: nowSeconds(),
      here: `${below}${url.search}`,
    };
  };

  const htmlResponse = (c: Context<DashboardEnv>, body: string, status = 200) =>
    c.body(body, status as 200, { "content-type": "text/html; charset=utf-8" });
  const jsonResponse = (c: Context<DashboardEnv>, value: unknown, status = 200) =>
    c.body(apiJson(value), status as 200, { "content-type": "application/json; charset=utf-8" });

  const errorResponse = (c: Context<DashboardEnv>, status: number, title: string, message: string) => {
    if (wantsJson(c)) return jsonResponse(c, { error: message }, status);
    const ctx = pageContext(c);
    if (c.req.method !== "GET") {
      // "Log in" should bring the user back to the page the form was on, not to a POST-only path.
      ctx.here = refererPath(c) ?? "/";
    }
    return htmlResponse(c, renderErrorPage(ctx, status, title, message), status);
  };

  const refererPath = (c: Context): string | undefined => {
    const referer = c.req.header("referer");
    if (!referer) return undefined;
    try {
      const url = new URL(referer);
      if (url.host !== new URL(c.req.url).host || !url.pathname.startsWith(base)) return undefined;
      return safeNext(url.pathname.slice(base.length) + url.search);
    } catch {
      return undefined;
    }
  };

  const security = new Security({
    token: settings.token,
    cookiePath: base === "" ? "/" : base,
    refuse: (c, kind: RefusalKind, message) => {
      log.warning(`refused ${c.req.method} ${new URL(c.req.url).pathname}: ${message}`);
      return errorResponse(c, 403, kind === "csrf" ? "Request refused (CSRF)" : "Not allowed", message);
    },
  });

  const app = new Hono<DashboardEnv>({ strict: false });
  const r = base === "" ? app : app.basePath(base);

  app.use("*", async (c, next) => {
    await next();
    c.header("Content-Security-Policy", CSP);
    c.header("X-Content-Type-Options", "nosniff");
    c.header("X-Frame-Options", "DENY");
    c.header("Referrer-Policy", "same-origin");
    if (!c.res.headers.has("cache-control")) c.header("Cache-Control", "no-store");
  });
  // Scrapers and static files need no CSRF cookie (and would get a new one on every request).
  const securityMiddleware = security.middleware();
  const cookieless = new Set([`${base}/metrics`, `${base}/varz`]);
  app.use("*", async (c, next) => {
    const path = new URL(c.req.url).pathname;
    if (cookieless.has(path) || path.startsWith(`${base}/static/`)) {
      c.set("csrfToken", "");
      c.set("authenticated", false);
      await next();
      return;
    }
    await securityMiddleware(c, next);
  });

  app.onError((error, c) => {
    if (error instanceof HttpError) return errorResponse(c, error.status, error.title, error.message);
    if (error instanceof InspectError) {
      const status = error.code === "TASK_NOT_FOUND" ? 404 : error.code === "TASK_NOT_ROUTED" ? 409 : 422;
      return errorResponse(c, status, status === 404 ? "Not found" : "Cannot do that", error.message);
    }
    const message = error instanceof Error ? error.message : String(error);
    log.error(`${c.req.method} ${new URL(c.req.url).pathname} failed: ${message}`);
    return errorResponse(
      c,
      500,
      "Internal error",
      `The dashboard could not complete the request: ${message}`,
    );
  });
  app.notFound((c) => errorResponse(c, 404, "Not found", "There is no such page."));

  const state = async () => (await snapshots.get()).value;
  const queueOr404 = async (identity: string) => {
    const queue = (await state()).state.getQueue(identity);
    if (!queue) throw new HttpError(404, "Not found", `Queue ${identity} doesn't exist`);
    return queue;
  };
  const knownQueues = async () => {
    const s = (await state()).state;
    return new Set([...s.queues.keys(), ...s.unboundQueues.keys()]);
  };
  const noticeOf = (c: Context) => {
    const code = c.req.query("notice");
    const make = code === undefined ? undefined : NOTICES[code];
    const n = Number(c.req.query("n") ?? "0");
    return make?.(Number.isSafeInteger(n) && n >= 0 ? n : 0);
  };

  // ---- static assets ------------------------------------------------------------------------------

  r.get("/static/dashboard.css", (c) =>
    c.body(STYLESHEET, 200, {
      "content-type": "text/css; charset=utf-8",
      "cache-control": "public, max-age=86400",
      etag: `"${STYLESHEET_VERSION}"`,
    }),
  );
  r.get("/static/dashboard.js", (c) =>
    c.body(SCRIPT, 200, {
      "content-type": "text/javascript; charset=utf-8",
      "cache-control": "public, max-age=86400",
      etag: `"${SCRIPT_VERSION}"`,
    }),
  );

  // ---- pages --------------------------------------------------------------------------------------

  r.get("/", async (c) =>
    htmlResponse(c, renderQueuesPage(pageContext(c), await state(), c.req.query("q") ?? "")),
  );

  const queuePage = (tab: "pending" | "crashed") => async (c: Context<DashboardEnv>) => {
    const queue = await queueOr404(c.req.param("name") as string);
    return htmlResponse(
      c,
      renderQueuePage(pageContext(c), queue, {
        tab,
        query: c.req.query("q") ?? "",
        page: parsePage(c.req.query("page")),
        pageSize: settings.pageSize,
        notice: noticeOf(c),
      }),
    );
  };
  r.get("/queue/:name", queuePage("pending"));
  r.get("/queue/:name/crashed", queuePage("crashed"));

  r.get("/task/:uid", async (c) => {
    const uid = c.req.param("uid");
    const found = await findTask(backend, uid);
    if (found === null) throw new HttpError(404, "Not found", `Task ${uid} doesn't exist`);
    const ctx = pageContext(c);
    if (found.task === null)
      return htmlResponse(c, renderUnreadableTaskPage(ctx, found.uid, found.raw, found.reason));
    return htmlResponse(
      c,
      renderTaskPage(ctx, found.task, {
        xrefs: expandXrefs(settings.xrefs, found.task.rootUid),
        queues: await knownQueues(),
        notice: noticeOf(c),
      }),
    );
  });

  r.get("/task/:uid/resource/:resource", async (c) => {
    const uid = c.req.param("uid");
    const resourceUid = c.req.param("resource");
    const found = await findTask(backend, uid);
    if (found === null || found.task === null) {
      throw new HttpError(404, "Not found", `Task ${uid} doesn't exist or cannot be read`);
    }
    const resource = findTaskResource(found.task, resourceUid);
    if (!resource) throw new HttpError(404, "Not found", `Task ${uid} has no resource ${resourceUid}`);
    const bucket = resource.bucket ?? backend.defaultBucket;
    if (bucket === undefined)
      throw new HttpError(404, "Not found", "The resource names no bucket and [s3] bucket is not set");
    let stream: Readable;
    try {
      stream = await backend.objects.getObjectStream(bucket, resource.uid);
    } catch (error) {
      if ((error as { code?: unknown }).code === "RESOURCE_NOT_FOUND") {
        throw new HttpError(
          404,
          "Not found",
          `The content of resource ${resource.name} is gone from the object store`,
        );
      }
      throw error;
    }
    log.info(`download of resource ${resource.uid} (${resource.name}) of task ${found.task.uid}`);
    return new Response(Readable.toWeb(stream) as ReadableStream, {
      status: 200,
      headers: {
        "content-type": "application/octet-stream",
        "content-disposition": contentDisposition(downloadName(resource)),
        "cache-control": "no-store",
      },
    });
  });

  r.get("/analysis/:root", async (c) => {
    const root = c.req.param("root");
    const tree = await loadAnalysis(backend, root);
    if (tree.tasks.length === 0 && tree.unparsable.length === 0) {
      throw new HttpError(404, "Not found", `Analysis ${root} doesn't exist`);
    }
    return htmlResponse(
      c,
      renderAnalysisPage(pageContext(c), tree, {
        xrefs: expandXrefs(settings.xrefs, root),
        queues: await knownQueues(),
      }),
    );
  });

  r.get("/services", async (c) => htmlResponse(c, renderServicesPage(pageContext(c), await state())));

  const graph = async () => {
    const [snapshot, outs] = await Promise.all([state(), outputs.get()]);
    return buildGraph(snapshot.state.binds, outs.value as Map<string, JsonObject[]>, snapshot.state.replicas);
  };
  r.get("/graph", async (c) => htmlResponse(c, renderGraphPage(pageContext(c), await graph())));

  r.get("/login", (c) => {
    const next = safeNext(c.req.query("next")) ?? "/";
    return htmlResponse(c, renderLoginPage(pageContext(c), { next, loggedIn: c.get("authenticated") }));
  });
  r.post("/login", security.csrfOnly(), async (c) => {
    const body = await c.req.parseBody();
    const next = safeNext(typeof body.next === "string" ? body.next : undefined) ?? "/";
    if (!security.tokenRequired) return c.redirect(`${base}${next}`, 303);
    const token = typeof body.token === "string" ? body.token : "";
    if (!security.checkToken(token)) {
      log.warning("failed dashboard log-in (wrong token)");
      await new Promise((resolve) => setTimeout(resolve, 250));
      const ctx = pageContext(c);
      return htmlResponse(c, renderLoginPage(ctx, { next, error: "Wrong token.", loggedIn: false }), 403);
    }
    security.startSession(c);
    return c.redirect(`${base}${next}`, 303);
  });
  r.post("/logout", security.csrfOnly(), (c) => {
    security.endSession(c);
    return c.redirect(`${base}/`, 303);
  });

  // ---- metrics ------------------------------------------------------------------------------------

  const metricsRoute = async (c: Context<DashboardEnv>) => {
    const cached = await snapshots.get();
    metrics.update(cached, snapshots.loads);
    return c.body(await metrics.render(), 200, { "content-type": metrics.contentType });
  };
  r.get("/metrics", metricsRoute);
  r.get("/varz", metricsRoute);

  // ---- JSON API -----------------------------------------------------------------------------------

  r.get("/api/summary", async (c) => {
    const cached = await snapshots.get();
    return jsonResponse(c, summaryJson(cached.value, cached.loadedAt));
  });
  r.get("/api/csrf", (c) => jsonResponse(c, { csrf_token: c.get("csrfToken") }));
  r.get("/api/queues", async (c) => {
    const s = (await state()).state;
    const out: Record<string, unknown> = {};
    for (const queue of s.queues.values()) out[queue.identity] = queueJson(queue);
    return jsonResponse(c, out);
  });
  r.get("/api/queue/:name", async (c) => jsonResponse(c, queueJson(await queueOr404(c.req.param("name")))));
  r.get("/api/queue/:name/:tab{pending|crashed}", async (c) => {
    const queue = await queueOr404(c.req.param("name"));
    const tasks = c.req.param("tab") === "crashed" ? queue.crashedTasks : queue.pendingTasks;
    const page = searchAndPaginate(
      [...tasks].reverse(),
      c.req.query("q") ?? "",
      parsePage(c.req.query("page")),
      settings.pageSize,
    );
    return jsonResponse(c, pageJson(page));
  });
  r.get("/api/task/:uid", async (c) => {
    const uid = c.req.param("uid");
    const found = await findTask(backend, uid);
    if (found === null) throw new HttpError(404, "Not found", "Task doesn't exist");
    if (found.task === null)
      throw new HttpError(422, "Unreadable", `Task document cannot be read: ${found.reason}`);
    return jsonResponse(c, taskJson(found.task));
  });
  r.get("/api/task/:uid/status", async (c) => {
    const found = await findTask(backend, c.req.param("uid"));
    if (found === null) throw new HttpError(404, "Not found", "Task doesn't exist");
    if (found.task === null)
      throw new HttpError(422, "Unreadable", `Task document cannot be read: ${found.reason}`);
    return jsonResponse(c, {
      uid: found.task.uid,
      status: found.task.status,
      last_update: found.task.lastUpdate,
    });
  });
  r.get("/api/task/:uid/resources", async (c) => {
    const found = await findTask(backend, c.req.param("uid"));
    if (found === null || found.task === null) throw new HttpError(404, "Not found", "Task doesn't exist");
    return jsonResponse(c, resourcesJson(taskResources(found.task)));
  });
  r.get("/api/analysis/:root", async (c) => {
    const tree = await loadAnalysis(backend, c.req.param("root"));
    if (tree.tasks.length === 0 && tree.unparsable.length === 0) {
      throw new HttpError(404, "Not found", "Analysis doesn't exist");
    }
    return jsonResponse(c, analysisJson(tree));
  });
  r.get("/api/services", async (c) => jsonResponse(c, servicesJson(await state())));
  r.get("/api/graph", async (c) => jsonResponse(c, graphJson(await graph())));

  // ---- actions (POST, token + CSRF) -------------------------------------------------------------

  const nextOf = async (c: Context<DashboardEnv>): Promise<string | undefined> => {
    const type = c.req.header("content-type") ?? "";
    if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(type)) return undefined;
    const body = await c.req.parseBody();
    return safeNext(typeof body.next === "string" ? body.next : undefined);
  };
  const withNotice = (path: string, notice: string, n?: number) => {
    const [pathname, search = ""] = path.split("?", 2) as [string, string?];
    const params = new URLSearchParams(search);
    params.delete("notice");
    params.delete("n");
    params.set("notice", notice);
    if (n !== undefined) params.set("n", String(n));
    return `${base}${pathname}?${params.toString()}`;
  };
  const taskPath = (uid: string) => `/task/${encodeURIComponent(uid)}`;
  const queuePath = (identity: string) => `/queue/${encodeURIComponent(identity)}`;

  const restartOne = async (c: Context<DashboardEnv>, uid: string) => {
    const result = await restartTask(backend, uid);
    snapshots.invalidate();
    log.info(`restarted task ${result.oldUid} as ${result.newUid} (queue ${result.identity})`);
    if (wantsJson(c)) {
      return jsonResponse(c, {
        old_uid: result.oldUid,
        new_uid: result.newUid,
        identity: result.identity,
        priority: result.priority,
        previous_status: result.previousStatus,
      });
    }
    const next = await nextOf(c);
    return c.redirect(withNotice(next ?? taskPath(result.newUid), "restarted"), 303);
  };
  const cancelOne = async (c: Context<DashboardEnv>, uid: string) => {
    const result = await cancelTask(backend, uid);
    snapshots.invalidate();
    log.info(`cancelled task ${result.uid} (was ${result.previousStatus})`);
    if (wantsJson(c)) {
      return jsonResponse(c, {
        uid: result.uid,
        previous_status: result.previousStatus,
        changed: result.changed,
      });
    }
    const next = await nextOf(c);
    return c.redirect(withNotice(next ?? taskPath(result.uid), "cancelled"), 303);
  };
  type Bulk = typeof restartCrashed | typeof cancelCrashed | typeof cancelPending;
  const bulk =
    (action: Bulk, notice: string, pick: "crashed" | "pending") => async (c: Context<DashboardEnv>) => {
      const identity = c.req.param("name") as string;
      const queue = await queueOr404(identity);
      const uids = (pick === "crashed" ? queue.crashedTasks : queue.pendingTasks).map((t) => t.uid);
      const result = await action(backend, identity, { uids });
      snapshots.invalidate();
      log.info(
        `${notice.replace("_", " ")} of ${identity}: ${result.done.length} done, ${result.failed.length} failed`,
      );
      if (wantsJson(c)) {
        return jsonResponse(c, {
          identity,
          done: result.done.length,
          failed: result.failed,
          tasks: result.done,
        });
      }
      const next = await nextOf(c);
      return c.redirect(withNotice(next ?? queuePath(identity), notice, result.done.length), 303);
    };

  const protect = security.protect();
  r.post("/task/:uid/restart", protect, (c) => restartOne(c, c.req.param("uid")));
  r.post("/task/:uid/cancel", protect, (c) => cancelOne(c, c.req.param("uid")));
  r.post("/queue/:name/restart_crashed", protect, bulk(restartCrashed, "restarted_crashed", "crashed"));
  r.post("/queue/:name/cancel_crashed", protect, bulk(cancelCrashed, "cancelled_crashed", "crashed"));
  r.post("/queue/:name/cancel_pending", protect, bulk(cancelPending, "cancelled_pending", "pending"));
  // The routes of Python's karton-dashboard, for scripts written against it.
  r.post("/restart_task/:uid/restart", protect, (c) => restartOne(c, c.req.param("uid")));
  r.post("/cancel_task/:uid/cancel", protect, (c) => cancelOne(c, c.req.param("uid")));
  r.post("/:name/restart_crashed", protect, bulk(restartCrashed, "restarted_crashed", "crashed"));
  r.post("/:name/cancel_crashed", protect, bulk(cancelCrashed, "cancelled_crashed", "crashed"));
  r.post("/:name/cancel_pending", protect, bulk(cancelPending, "cancelled_pending", "pending"));

  return {
    app,
    fetch: async (request: Request) => await app.fetch(request),
    metrics,
    snapshots,
  };
}
