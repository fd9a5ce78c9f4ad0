/**
 * The dashboard app over the embedded backend (no servers): every page and API route renders,
 * actions change the state, CSRF and token refusals, escaping, resource downloads.
 * The same behaviour against real Redis + S3 and Python data: test/integration/dashboard-*.test.ts.
 */
import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalObjectStore } from "../../src/backend/memory/local-object-store.js";
import { MemoryBackend } from "../../src/backend/memory/memory-backend.js";
import { MemoryStore } from "../../src/backend/memory/memory-store.js";
import type { Bind } from "../../src/bind/bind.js";
import { createDashboardApp, type DashboardApp } from "../../src/dashboard/app.js";
import { makeSettings } from "../../src/dashboard/settings.js";
import { TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";

const BUCKET = "dash-bucket";

function bind(identity: string, filters: Bind["filters"], info: string | null = null): Bind {
  return {
    identity,
    filters,
    info,
    version: "5.9.1",
    persistent: true,
    serviceVersion: "1.0.0",
    isAsync: false,
  };
}

interface World {
  backend: MemoryBackend;
  objects: LocalObjectStore;
  dashboard: DashboardApp;
  crashed: Task;
  pending: Task;
}

async function makeWorld(token?: string): Promise<World> {
  const store = new MemoryStore(`dash-${randomUUID()}`);
  const objects = LocalObjectStore.temporary("karton-dash-");
  await objects.createBucket(BUCKET);
  const backend = new MemoryBackend({ store, objects, defaultBucket: BUCKET });
  await backend.ping();
  await backend.registerBind(
    bind("dash.consumer", [{ type: "sample" }], "Unpacks *samples*.\n\n<script>alert(1)</script>"),
  );
  await backend.registerBind(bind("dash.other", [{ type: "config", family: "!emotet" }]));
  await objects.putObject(BUCKET, "res-1", Buffer.from("hello resource"));
  const root = new Task({ type: "sample", kind: "raw", origin: "dash.producer" });
  const pending = root.fork();
  pending.headers.receiver = "dash.consumer";
  pending.setStatus(TaskState.Spawned);
  const crashed = root.fork();
  crashed.headers.receiver = "dash.consumer";
  crashed.payload.sample = {
    __karton_resource__: {
      uid: "res-1",
      name: '../evil".bin',
      bucket: BUCKET,
      size: 14,
      sha256: "ab",
      flags: [],
      metadata: {},
    },
  } as never;
  crashed.error = ["Traceback (most recent call last):\n", "ValueError: <boom>\n"];
  crashed.setStatus(TaskState.Crashed);
  await backend.saveTasks([pending, crashed]);
  const dashboard = createDashboardApp({
    backend,
    settings: makeSettings({
      token,
      stateTtlSeconds: 5,
      xrefs: { MWDB: "https://mwdb.example/analysis/{root_uid}" },
    }),
  });
  return { backend, objects, dashboard, crashed, pending };
}

/** A tiny browser: keeps cookies, sends same-origin Origin on POST. */
class Client {
  cookies = new Map<string, string>();
  constructor(readonly dashboard: DashboardApp) {}
  async request(path: string, init: RequestInit & { form?: Record<string, string> } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0)
      headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    let body = init.body;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers.set("content-type", "application/x-www-form-urlencoded");
    }
    const response = await this.dashboard.fetch(
      new Request(`http://127.0.0.1:5000${path}`, { ...init, headers, body, redirect: "manual" }),
    );
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const [name, value] = (pair as string).split("=") as [string, string];
      if (/Max-Age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }
  get csrf(): string {
    return this.cookies.get("karton_dashboard_csrf") ?? "";
  }
}

describe("dashboard app (embedded backend)", () => {
  let w: World;
  let client: Client;

  beforeEach(async () => {
    w = await makeWorld();
    client = new Client(w.dashboard);
  });
  afterEach(async () => {
    await w.backend.close();
    await w.objects.dispose();
  });

  it("renders the queues page with counts, escaped Markdown description and security headers", async () => {
    const res = await client.request("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
    const text = await res.text();
    expect(text).toContain("dash.consumer");
    expect(text).toContain("<em>samples</em>");
    expect(text).not.toContain("<script>alert(1)</script>");
    expect(text).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(text).toMatch(/data-count="crashed" data-queue="dash.consumer"[^>]*>1</);
    expect(client.csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("renders queue, crashed, task, analysis, services and graph pages", async () => {
    for (const path of [
      "/queue/dash.consumer",
      "/queue/dash.consumer/crashed",
      `/task/${encodeURIComponent(w.crashed.uid)}`,
      `/analysis/${w.crashed.rootUid}`,
      "/services",
      "/graph",
      "/login",
    ]) {
      const res = await client.request(path);
      expect(res.status, path).toBe(200);
    }
    const task = await (await client.request(`/task/${encodeURIComponent(w.crashed.uid)}`)).text();
    expect(task).toContain("ValueError: &lt;boom&gt;");
    expect(task).toContain("https://mwdb.example/analysis/" + w.crashed.rootUid);
    const crashedList = await (await client.request("/queue/dash.consumer/crashed")).text();
    expect(crashedList).toContain("ValueError: &lt;boom&gt;");
  });

  it("answers 404 for unknown queues, tasks and analyses", async () => {
    expect((await client.request("/queue/nope")).status).toBe(404);
    expect((await client.request("/task/nope")).status).toBe(404);
    expect((await client.request("/analysis/nope")).status).toBe(404);
    const api = await client.request("/api/queue/nope");
    expect(api.status).toBe(404);
    expect(await api.json()).toEqual({ error: "Queue nope doesn't exist" });
  });

  it("serves resources referenced by the task only", async () => {
    const ok = await client.request(`/task/${encodeURIComponent(w.crashed.uid)}/resource/res-1`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("hello resource");
    expect(ok.headers.get("content-disposition")).toBe(
      `attachment; filename="evil_.bin"; filename*=UTF-8''evil_.bin`,
    );
    const other = await client.request(`/task/${encodeURIComponent(w.pending.uid)}/resource/res-1`);
    expect(other.status).toBe(404);
  });

  it("refuses a POST without CSRF token, from another origin, and accepts a proper one", async () => {
    await client.request("/");
    const path = `/task/${encodeURIComponent(w.crashed.uid)}/restart`;
    let res = await client.request(path, { method: "POST", form: {} });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("CSRF check failed: missing CSRF token");
    res = await client.request(path, {
      method: "POST",
      form: { _csrf: client.csrf },
      headers: { origin: "http://evil.example" },
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("another site");
    res = await client.request(path, { method: "POST", form: { _csrf: "x".repeat(43) } });
    expect(res.status).toBe(403);
    res = await client.request(path, {
      method: "POST",
      form: { _csrf: client.csrf },
      headers: { origin: "http://127.0.0.1:5000" },
    });
    expect(res.status).toBe(303);
    const location = res.headers.get("location") as string;
    expect(location).toMatch(/^\/task\/.+\?notice=restarted$/);
    expect((await w.backend.getTask(w.crashed.uid))?.status).toBe(TaskState.Finished);
    const page = await (await client.request(location)).text();
    expect(page).toContain("Task restarted");
    expect(page).toContain("data-task-status>Spawned<");
  });

  it("bulk actions: cancel pending, restart crashed", async () => {
    await client.request("/");
    let res = await client.request("/queue/dash.consumer/cancel_pending", {
      method: "POST",
      form: { _csrf: client.csrf, next: "/queue/dash.consumer" },
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/queue/dash.consumer?notice=cancelled_pending&n=1");
    expect((await w.backend.getTask(w.pending.uid))?.status).toBe(TaskState.Finished);
    res = await client.request("/queue/dash.consumer/restart_crashed", {
      method: "POST",
      headers: { accept: "application/json", "x-csrf-token": client.csrf },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { done: number };
    expect(body.done).toBe(1);
    expect(await w.backend.queueLengths("dash.consumer")).toMatchObject({ normal: 1 });
  });

  it("serves metrics and the JSON API", async () => {
    client.cookies.clear();
    const scrape = await client.request("/metrics");
    expect(scrape.headers.getSetCookie()).toEqual([]);
    const metrics = await scrape.text();
    expect(metrics).toContain('karton_tasks{name="dash_consumer",priority="normal",status="Crashed"} 1');
    expect(metrics).toContain('karton_replicas{name="dash_consumer",version="5.9.1"} 0');
    expect(await (await client.request("/varz")).text()).toContain("karton_queue_oldest_pending_age_seconds");
    const queues = (await (await client.request("/api/queues")).json()) as Record<
      string,
      { crashed: string[] }
    >;
    expect(queues["dash.consumer"]?.crashed).toEqual([w.crashed.uid]);
    const summary = (await (await client.request("/api/summary")).json()) as { totals: { crashed: number } };
    expect(summary.totals.crashed).toBe(1);
  });
});

describe("dashboard app with a token", () => {
  let w: World;
  let client: Client;

  beforeEach(async () => {
    w = await makeWorld("s3cr3t-token");
    client = new Client(w.dashboard);
  });
  afterEach(async () => {
    await w.backend.close();
    await w.objects.dispose();
  });

  it("needs the token for actions; login sets an HttpOnly SameSite=Strict session cookie", async () => {
    const page = await (await client.request("/queue/dash.consumer/crashed")).text();
    expect(page).not.toContain("s3cr3t-token");
    expect(page).toContain("Log in");
    const path = `/task/${encodeURIComponent(w.crashed.uid)}/cancel`;
    let res = await client.request(path, { method: "POST", form: { _csrf: client.csrf } });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("needs the dashboard token");
    res = await client.request(path, { method: "POST", headers: { authorization: "Bearer wrong" } });
    expect(res.status).toBe(403);
    res = await client.request("/login", {
      method: "POST",
      form: { _csrf: client.csrf, token: "nope", next: "/" },
    });
    expect(res.status).toBe(403);
    res = await client.request("/login", {
      method: "POST",
      form: { _csrf: client.csrf, token: "s3cr3t-token", next: "/queue/dash.consumer" },
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/queue/dash.consumer");
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith("karton_dashboard_session="));
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toContain("s3cr3t-token");
    res = await client.request(path, { method: "POST", form: { _csrf: client.csrf } });
    expect(res.status).toBe(303);
    expect((await w.backend.getTask(w.crashed.uid))?.status).toBe(TaskState.Finished);
  });

  it("accepts the Bearer token without CSRF token (API clients)", async () => {
    const res = await client.request(`/task/${encodeURIComponent(w.pending.uid)}/cancel`, {
      method: "POST",
      headers: { authorization: "Bearer s3cr3t-token", accept: "application/json" },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ uid: w.pending.uid, previous_status: "Spawned", changed: true });
  });
});
