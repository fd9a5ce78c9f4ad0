/**
 * karton-dashboard over HTTP against real Redis + Ceph RGW, with state written by Python 5.9.1
 * (raw fixture documents, binds, outputs, metrics) and by karton-ts services (producer, router,
 * crashing consumer): every page and API route, actions, auth + CSRF refusals, resource downloads,
 * and the /metrics + /varz output.
 */
import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDashboardApp } from "../../src/dashboard/app.js";
import { type RunningServer, startServer } from "../../src/dashboard/server.js";
import { makeSettings } from "../../src/dashboard/settings.js";
import { parse } from "../../src/json/index.js";
import { TaskState } from "../../src/task/enums.js";
import { type DashboardWorld, dashboardWorld, PY, parsePrometheus, TS } from "../browser/dashboard-world.js";
import { readFixtureBytes, readFixtureJson } from "../helpers/fixtures.js";
import { testServices } from "../helpers/services.js";

const enc = encodeURIComponent;

/** fetch with a cookie jar (enough for one browser-like client). */
class Client {
  readonly cookies = new Map<string, string>();
  constructor(readonly origin: string) {}
  async fetch(path: string, init: RequestInit & { form?: Record<string, string> } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0)
      headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    let body = init.body;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers.set("content-type", "application/x-www-form-urlencoded");
    }
    const res = await fetch(`${this.origin}${path}`, { ...init, headers, body, redirect: "manual" });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const i = (pair as string).indexOf("=");
      const name = (pair as string).slice(0, i);
      if (/Max-Age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, (pair as string).slice(i + 1));
    }
    return res;
  }
  async text(path: string): Promise<string> {
    const res = await this.fetch(path);
    expect(res.status, `GET ${path}`).toBe(200);
    return await res.text();
  }
  async json<T = Record<string, unknown>>(path: string): Promise<T> {
    const res = await this.fetch(path);
    expect(res.status, `GET ${path}`).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    return parse(await res.text()) as T;
  }
  get csrf(): string {
    return this.cookies.get("karton_dashboard_csrf") ?? "";
  }
}

describe("dashboard pages and API (read-only)", () => {
  let world: DashboardWorld;
  let client: Client;
  let extra: Redis;

  beforeAll(async () => {
    world = await dashboardWorld({ xrefs: { MWDB: "https://mwdb.example/search?q=root:{root_uid}" } });
    client = new Client(world.server.origin);
    // A Python-like service announcing itself, one with an unusable name, and hostile data.
    const { host, port } = testServices().redis;
    extra = new Redis({
      host,
      port,
      db: world.env.db,
      connectionName: "fixture.python-service?karton_version=5.9.1&service_version=1.2.3",
    });
    await extra.ping();
    const bad = new Redis({
      host,
      port,
      db: world.env.db,
      connectionName: "fixture.noversion?service_version=1",
    });
    await bad.ping();
    extra.on("close", () => bad.disconnect());
    await world.env.redis.hset(
      "karton.binds",
      'evil"<script>x',
      JSON.stringify({
        filters: [{ type: "<img src=x onerror=alert(1)>" }],
        info: "<script>alert(1)</script> [click](javascript:alert(1)) **ok**",
        is_async: false,
        persistent: true,
        service_version: null,
        version: "5.9.1",
      }),
    );
    await world.env.redis.hset(
      "karton.binds",
      "dash/slash",
      JSON.stringify({
        filters: [],
        info: null,
        is_async: false,
        persistent: true,
        service_version: null,
        version: "5.9.1",
      }),
    );
    await world.env.redis.hset("karton.binds", "dash.broken", "{not json");
  }, 120_000);

  afterAll(async () => {
    extra?.disconnect();
    await world?.close();
  });

  it("queues page: Python and TS binds, counts, unbound receivers, escaped descriptions", async () => {
    const html = await client.text("/");
    for (const identity of [
      "fixture.crasher",
      "fixture.bind.query-filters",
      "fixture.bind.documented",
      TS.crasher,
      TS.unpacker,
    ]) {
      expect(html).toContain(`>${identity}<`);
    }
    expect(html).toMatch(/data-count="crashed" data-queue="fixture\.crasher"[^>]*>1</);
    expect(html).toMatch(/data-count="pending" data-queue="fixture\.prio"[^>]*>3</);
    expect(html).toMatch(/data-count="crashed" data-queue="dash\.ts-crasher"[^>]*>1</);
    expect(html).toContain("Receivers without a bind");
    expect(html).toContain("fixture.payload-sink");
    // hostile bind: escaped everywhere, no javascript: link
    expect(html).not.toContain("<script>alert(1)</script>");
    expect(html).not.toContain("<img src=x");
    expect(html).not.toMatch(/href="javascript:/i);
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("<strong>ok</strong>");
    expect(html).toContain("evil&quot;&lt;script&gt;x");
    expect(html).toContain("unreadable bind");
    // the documented Python bind: its docstring rendered dedented
    expect(html).toContain("Fixture consumer with a docstring.");
    expect(html).toContain('src="/static/dashboard.js?v=');
    expect((await client.fetch("/?q=prio")).status).toBe(200);
    const filtered = await client.text("/?q=prio");
    expect(filtered).toContain("fixture.prio");
    expect(filtered).not.toContain(">fixture.crasher<");
  });

  it("queue pages: pending with priorities, crashed with the last error line, identities with a slash", async () => {
    const prio = await client.text("/queue/fixture.prio");
    expect(prio.match(/class="badge (high|normal|low)"/g)?.length).toBe(3);
    expect(prio).toContain("Pending (3)");
    const crashed = await client.text("/queue/fixture.crasher/crashed");
    expect(crashed).toContain("ValueError: fixture crash while processing &#39;root task&#39;");
    expect(crashed).toContain("Crashes on purpose (Python fixture).");
    expect(crashed).toContain("<code>code</code>");
    const ts = await client.text(`/queue/${TS.crasher}/crashed`);
    expect(ts).toContain("Error: ts crash: &lt;b&gt;bold&lt;/b&gt; &amp; &#39;quoted&#39;");
    expect(await client.text(`/queue/${enc("dash/slash")}`)).toContain("<h1>dash/slash</h1>");
    expect(await client.text(`/queue/${enc('evil"<script>x')}`)).toContain("evil&quot;&lt;script&gt;x");
  });

  it("paginates and searches task lists", async () => {
    const page1 = await client.text("/queue/fixture.prio?q=prio-test");
    expect(page1).toContain("1–3 of 3");
    const none = await client.text("/queue/fixture.prio?q=type:nothing-like-this");
    expect(none).toContain("No tasks.");
    const small = createDashboardApp({ backend: world.backend, settings: makeSettings({ pageSize: 2 }) });
    const res = await small.fetch(new Request("http://127.0.0.1/queue/fixture.prio?page=2"));
    const text = await res.text();
    expect(text).toContain("3–3 of 3");
    expect(text).toContain("page 2 / 2");
    const api = parse(
      await (await small.fetch(new Request("http://127.0.0.1/api/queue/fixture.prio/pending?page=1"))).text(),
    ) as {
      items: unknown[];
      pages: number;
      total: number;
    };
    expect(api).toMatchObject({ pages: 2, total: 3 });
    expect(api.items).toHaveLength(2);
  });

  it("task page: the Python crashed fork with its whole traceback, ids, headers and resources", async () => {
    const html = await client.text(`/task/${enc(PY.crashedFork)}`);
    expect(html).toContain("data-task-status>Crashed<");
    // the traceback elements concatenated without separator, escaped
    expect(html).toContain(
      "Traceback (most recent call last):\n  File &quot;/usr/lib/python3/dist-packages/karton/core/karton.py&quot;, line 193, in internal_process\n    self.process(task)\n",
    );
    expect(html).toContain(PY.crashError.replace(/'/g, "&#39;"));
    expect(html).toContain(`href="/analysis/${PY.root}"`);
    expect(html).toContain('<span class="hdr persistent">campaign:golden-fixtures</span>');
    expect(html).toContain("sample.txt");
    expect(html).toContain("21 B");
    expect(html).toContain(`/resource/${PY.sampleResource}`);
    expect(html).toContain(`https://mwdb.example/search?q=root:${PY.root}`);
    expect(html).toContain(`href="/queue/fixture.crasher"`);
  });

  it("task page and API keep Python's special values (big integers, NaN) and the uid quirk", async () => {
    const special = [...(await world.env.redis.keys("karton.task:{6fd28cb5*"))].find((k) =>
      k.includes(PY.specialFork),
    );
    expect(special).toBeDefined();
    const uid = (special as string).slice("karton.task:".length);
    const html = await client.text(`/task/${enc(uid)}`);
    expect(html).toContain("1180591620717411303424");
    expect(html).toContain("NaN");
    const raw = await (await client.fetch(`/api/task/${enc(uid)}`)).text();
    expect(raw).toContain("1180591620717411303424");
    expect(raw).toContain("NaN");
    // the child task of tasks/06 is named {C}:C but belongs to the Python root
    const child = await client.json<{ root_uid: string }>(`/api/task/${enc(PY.childDeclared)}`);
    expect(child.root_uid).toBe(PY.root);
  });

  it("an unreadable task document is shown raw with the reason, and counted apart", async () => {
    const uid = "{bad-root}:bad-task";
    await world.env.redis.set(`karton.task:${uid}`, '{"uid": "{bad-root}:bad-task", "status": "Weird <x>"');
    const html = await client.text(`/task/${enc(uid)}`);
    expect(html).toContain("This task document cannot be read");
    expect(html).toContain("&quot;Weird &lt;x&gt;&quot;");
    const api = await client.fetch(`/api/task/${enc(uid)}`);
    expect(api.status).toBe(422);
    const fresh = createDashboardApp({ backend: world.backend, settings: makeSettings() });
    const index = await (await fresh.fetch(new Request("http://127.0.0.1/"))).text();
    expect(index).toContain("1 stored task document(s) cannot be parsed");
    await world.env.redis.del(`karton.task:${uid}`);
  });

  it("analysis page and API: every task of the root, grouped by queue and status", async () => {
    const html = await client.text(`/analysis/${PY.root}`);
    expect(html).toContain("5 stored task(s)");
    for (const queue of ["fixture.analyzer", "fixture.crasher", "fixture.reporter"])
      expect(html).toContain(`>${queue}<`);
    expect(html).toContain(PY.childDeclared.split(":")[1]);
    const api = await client.json<{
      uid: string;
      queues: Record<string, { status: string }[]>;
      unrouted: unknown[];
      statuses: Record<string, number>;
    }>(`/api/analysis/${PY.root}`);
    expect(api.uid).toBe(PY.root);
    expect(api.queues["fixture.crasher"]?.[0]?.status).toBe("Crashed");
    expect(api.queues["fixture.reporter"]?.[0]?.status).toBe("Spawned");
    expect(api.unrouted).toHaveLength(2);
    expect(api.statuses).toEqual({ Finished: 3, Crashed: 1, Spawned: 1 });
    const ts = await client.text(`/analysis/${world.ts.rootUid}`);
    expect(ts).toContain(TS.crasher);
  });

  it("services page and API: extended client names, versions, connection counts", async () => {
    const html = await client.text("/services");
    expect(html).toContain("karton.dashboard");
    expect(html).toContain("fixture.python-service");
    expect(html).toContain("1.2.3");
    expect(html).toContain("fixture.noversion?service_version=1");
    const services =
      await client.json<
        { identity: string; karton_version: string; service_version: string | null; count: number }[]
      >("/api/services");
    expect(services).toContainEqual({
      identity: "fixture.python-service",
      karton_version: "5.9.1",
      service_version: "1.2.3",
      count: 1,
    });
    expect(services.find((s) => s.identity === "karton.dashboard")).toMatchObject({ count: 1 });
    expect(services.find((s) => s.identity === "fixture.noversion")).toBeUndefined();
  });

  it("graph: edges from recorded outputs by the real filter engine (wildcards, negation)", async () => {
    const graph = await client.json<{ edges: { from: string; to: string }[]; nodes: { identity: string }[] }>(
      "/api/graph",
    );
    const edges = graph.edges.map((e) => `${e.from} -> ${e.to}`);
    expect(edges).toContain("fixture.producer -> fixture.crasher");
    expect(edges).toContain("fixture.producer -> fixture.bind.persistent");
    expect(edges).toContain("fixture.analyzer -> fixture.reporter");
    // "sam*" is a suffix glob in Python: it matches "sample" and "ts-sample"
    expect(edges).toContain("fixture.producer -> dash.glob");
    expect(edges).toContain(`${TS.producer} -> dash.glob`);
    // "!raw": the analyzer's kind=analyzed passes, the producer's kind=raw does not
    expect(edges).toContain("fixture.analyzer -> dash.not-raw");
    expect(edges).not.toContain("fixture.producer -> dash.not-raw");
    expect(edges).toContain(`${TS.producer} -> ${TS.crasher}`);
    expect(edges).toContain(`${TS.producer} -> ${TS.unpacker}`);
    expect(edges).not.toContain("fixture.producer -> fixture.bind.query-filters");
    const html = await client.text("/graph");
    expect(html).toContain("<svg");
    expect(html).toContain(`href="/queue/fixture.crasher"`);
  });

  it("JSON API: queues (Python keys), one queue, task, status, resources, summary, csrf; 404s", async () => {
    const queues = await client.json<Record<string, Record<string, unknown>>>("/api/queues");
    const crasher = queues["fixture.crasher"] as Record<string, unknown>;
    expect(Object.keys(crasher).slice(0, 9)).toEqual([
      "identity",
      "filters",
      "description",
      "persistent",
      "version",
      "replicas",
      "service_version",
      "tasks",
      "crashed",
    ]);
    expect(crasher.crashed).toEqual([PY.crashedFork]);
    expect(queues["fixture.bind.legacy-filters"]?.filters).toEqual([
      { kind: "!runnable", platform: "win*", type: "sample" },
      { family: "!emotet", type: "config" },
      { execute: "!False", type: "blob" },
    ]);
    const one = await client.json(`/api/queue/${TS.unpacker}`);
    expect(one.tasks).toEqual([world.ts.pendingFork]);
    const crashedPage = await client.json<{ items: { uid: string; error: string }[] }>(
      "/api/queue/fixture.crasher/crashed",
    );
    expect(crashedPage.items[0]).toMatchObject({ uid: PY.crashedFork, error: PY.crashError });
    const task = await client.json(`/api/task/${enc(PY.crashedFork)}`);
    expect(task.status).toBe("Crashed");
    expect((task.error as string[]).length).toBe(5);
    expect(await client.json(`/api/task/${enc(PY.crashedFork)}/status`)).toMatchObject({ status: "Crashed" });
    const resources = await client.json<{ name: string; size: number }[]>(
      `/api/task/${enc(world.ts.crashedFork)}/resources`,
    );
    expect(resources).toEqual([
      expect.objectContaining({
        name: TS.resourceName,
        size: TS.resourceBytes.length,
        path: "payload.sample",
      }),
    ]);
    const summary = await client.json<{
      totals: { crashed: number };
      queues: Record<string, { pending: number }>;
    }>("/api/summary");
    expect(summary.totals.crashed).toBe(2);
    expect(summary.queues["fixture.prio"]?.pending).toBe(3);
    const csrf = await client.json<{ csrf_token: string }>("/api/csrf");
    expect(csrf.csrf_token).toBe(client.csrf);
    for (const path of [
      "/api/queue/nope",
      `/api/task/${enc("{nope}:nope")}`,
      "/api/analysis/nope",
      "/queue/nope",
      "/task/nope",
      "/analysis/nope",
      "/nope/nope/nope",
    ]) {
      const res = await client.fetch(path);
      expect(res.status, path).toBe(404);
    }
    expect(await (await client.fetch("/api/queue/nope")).json()).toEqual({
      error: "Queue nope doesn't exist",
    });
  });

  it("resource downloads: only resources of the task shown", async () => {
    const ok = await client.fetch(`/task/${enc(world.ts.crashedFork)}/resource/${world.ts.resourceUid}`);
    expect(ok.status).toBe(200);
    expect(Buffer.from(await ok.arrayBuffer())).toEqual(TS.resourceBytes);
    expect(ok.headers.get("content-type")).toBe("application/octet-stream");
    expect(ok.headers.get("content-disposition")).toBe(
      `attachment; filename="evil <name>.zip"; filename*=UTF-8''${enc("evil <name>.zip")}`,
    );
    // the same object through a task that does not carry it: refused
    const denied = await client.fetch(`/task/${enc(PY.crashedFork)}/resource/${world.ts.resourceUid}`);
    expect(denied.status).toBe(404);
    expect(await denied.text()).toContain(`has no resource ${world.ts.resourceUid}`);
    const unknownTask = await client.fetch(`/task/${enc("{x}:y")}/resource/${world.ts.resourceUid}`);
    expect(unknownTask.status).toBe(404);
    // a Python directory resource (tasks/10) re-pointed at our bucket, its zip uploaded: served as is
    const doc = readFixtureJson("tasks/10-directory-resource.json") as {
      tasks: { raw: string; redis_key: string }[];
    };
    const entry = doc.tasks[0]!;
    await world.env.redis.set(
      entry.redis_key,
      entry.raw.replaceAll('"bucket": "karton-fixtures"', `"bucket": "${world.env.bucket}"`),
    );
    const zip = readFixtureBytes("s3/directory-resource.zip");
    await world.backend.objects.putObject(world.env.bucket, "0bfc4272-0860-4847-967c-ba393970e897", zip);
    const pyUid = entry.redis_key.slice("karton.task:".length);
    const pyPage = await client.text(`/task/${enc(pyUid)}`);
    expect(pyPage).toContain("directory (zip)");
    expect(pyPage).toContain("422 B");
    const pyZip = await client.fetch(`/task/${enc(pyUid)}/resource/0bfc4272-0860-4847-967c-ba393970e897`);
    expect(pyZip.status).toBe(200);
    const bytes = Buffer.from(await pyZip.arrayBuffer());
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(
      "77d89293d1c3e40bda6a2cdedf9e9678a00368383a29e80f41836c5af673f7b0",
    );
    expect(pyZip.headers.get("content-disposition")).toContain('filename="dumps"');
    // a Python resource whose object is not in this S3 (the capture bucket): a clear 404
    const gone = await client.fetch(`/task/${enc(PY.crashedFork)}/resource/${PY.sampleResource}`);
    expect(gone.status).toBe(404);
    expect(await gone.text()).toContain("gone from the object store");
  });

  it("/metrics and /varz: reference names and labels, values from Python and TS data", async () => {
    for (const path of ["/metrics", "/varz"]) {
      const res = await client.fetch(path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/plain");
      const { samples, types } = parsePrometheus(await res.text());
      for (const name of [
        "karton_tasks",
        "karton_replicas",
        "karton_metrics",
        "karton_queue_oldest_pending_age_seconds",
      ]) {
        expect(types.get(name), name).toBe("gauge");
      }
      const find = (name: string, labels: Record<string, string>) =>
        samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      expect(
        find("karton_tasks", { name: "fixture_crasher", priority: "normal", status: "Crashed" })[0]?.value,
      ).toBe(1);
      expect(
        find("karton_tasks", { name: "fixture_prio", status: "Spawned" })
          .map((s) => [s.labels.priority, s.value])
          .sort(),
      ).toEqual([
        ["high", 1],
        ["low", 1],
        ["normal", 1],
      ]);
      // every priority × status pair of a bound queue, zeros included
      expect(find("karton_tasks", { name: "fixture_bind_persistent" })).toHaveLength(15);
      expect(
        find("karton_tasks", { name: "dash_ts_crasher", status: "Crashed" }).reduce((a, s) => a + s.value, 0),
      ).toBe(1);
      // unbound receivers are not queues (as in Python)
      expect(find("karton_tasks", { name: "fixture_payload_sink" })).toHaveLength(0);
      expect(find("karton_replicas", { name: "dash_ts_crasher", version: "0.1.0" })[0]?.value).toBe(1);
      expect(find("karton_replicas", { name: "fixture_crasher", version: "5.9.1" })[0]?.value).toBe(0);
      expect(find("karton_metrics", { metric: "assigned", name: "fixture.analyzer" })[0]?.value).toBe(1);
      expect(find("karton_metrics", { metric: "crashed", name: "fixture.crasher" })[0]?.value).toBe(1);
      expect(find("karton_metrics", { metric: "produced", name: TS.producer })[0]?.value).toBe(1);
      expect(find("karton_metrics", { metric: "crashed", name: TS.crasher })[0]?.value).toBe(1);
      expect(find("karton_metrics", { metric: "consumed", name: TS.crasher })[0]?.value).toBe(1);
      const oldest = find("karton_queue_oldest_pending_age_seconds", { name: "fixture_prio" })[0]
        ?.value as number;
      const prioTimes = (await world.env.redis.keys("karton.task:*")).filter((k) => k.includes("}:")).length;
      expect(prioTimes).toBeGreaterThan(0);
      expect(oldest).toBeGreaterThan(60); // captured long ago
      expect(find("karton_queue_oldest_pending_age_seconds", { name: "fixture_crasher" })[0]?.value).toBe(0);
    }
  });

  it("one cached state reading serves pages, API and scrapes within the TTL (single flight)", async () => {
    const dash = createDashboardApp({
      backend: world.backend,
      settings: makeSettings({ stateTtlSeconds: 60 }),
    });
    const req = (path: string) => dash.fetch(new Request(`http://127.0.0.1${path}`));
    const results = await Promise.all([
      req("/metrics"),
      req("/"),
      req("/api/queues"),
      req("/varz"),
      req("/api/summary"),
    ]);
    for (const r of results) expect(r.status).toBe(200);
    expect(dash.snapshots.loads).toBe(1);
    await req("/metrics");
    expect(dash.snapshots.loads).toBe(1);
    const text = await (await req("/metrics")).text();
    expect(text).toContain("karton_dashboard_state_loads_total 1");
  });
});

describe("dashboard actions", () => {
  let world: DashboardWorld;
  let client: Client;

  beforeAll(async () => {
    world = await dashboardWorld();
    client = new Client(world.server.origin);
    await client.fetch("/");
  }, 120_000);
  afterAll(async () => {
    await world?.close();
  });

  const post = (path: string, form: Record<string, string> = {}, headers: Record<string, string> = {}) =>
    client.fetch(path, {
      method: "POST",
      form: { _csrf: client.csrf, ...form },
      headers: { origin: world.server.origin, ...headers },
    });

  it("restart of one crashed task: a new Spawned fork in its queue, the old one Finished", async () => {
    const res = await post(`/task/${enc(PY.crashedFork)}/restart`);
    expect(res.status).toBe(303);
    const location = res.headers.get("location") as string;
    const newUid = decodeURIComponent(/^\/task\/([^?]+)\?notice=restarted$/.exec(location)?.[1] ?? "");
    expect(newUid).toMatch(new RegExp(`^\\{${PY.root}\\}:`));
    expect((await world.backend.getTask(PY.crashedFork))?.status).toBe(TaskState.Finished);
    const fork = await world.backend.getTask(newUid, { decodeResources: false });
    expect(fork).toMatchObject({
      status: TaskState.Spawned,
      origUid: `{${PY.root}}:${PY.root}`,
      error: null,
    });
    expect(fork?.headers.receiver).toBe("fixture.crasher");
    expect(await world.env.redis.lrange("karton.queue.normal:fixture.crasher", 0, -1)).toEqual([newUid]);
    const page = await client.text(location);
    expect(page).toContain("Task restarted");
    expect(await client.text("/queue/fixture.crasher")).toContain(newUid.split(":")[1]);
  });

  it("cancel of one task sets it Finished; an unrouted task cannot be restarted (409)", async () => {
    const res = await post(`/task/${enc(world.ts.pendingFork)}/cancel`, { next: `/queue/${TS.unpacker}` });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/queue/${TS.unpacker}?notice=cancelled`);
    expect((await world.backend.getTask(world.ts.pendingFork))?.status).toBe(TaskState.Finished);
    expect(await client.text(`/queue/${TS.unpacker}?notice=cancelled`)).toContain("Task cancelled");
    const root = await post(`/task/${enc(PY.childDeclared)}/restart`, {}, { accept: "application/json" });
    expect(root.status).toBe(409);
    expect(((await root.json()) as { error: string }).error).toContain('has no "receiver" header');
    expect((await post(`/task/${enc("{x}:y")}/cancel`)).status).toBe(404);
  });

  it("queue actions: restart crashed, cancel pending, cancel crashed (forms and JSON)", async () => {
    let res = await post(`/queue/${TS.crasher}/restart_crashed`, { next: `/queue/${TS.crasher}/crashed` });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/queue/${TS.crasher}/crashed?notice=restarted_crashed&n=1`);
    expect((await world.backend.getTask(world.ts.crashedFork))?.status).toBe(TaskState.Finished);
    expect(await world.backend.queueLengths(TS.crasher)).toMatchObject({ normal: 1 });
    res = await post("/queue/fixture.prio/cancel_pending", {}, { accept: "application/json" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ identity: "fixture.prio", done: 3, failed: [] });
    expect((await client.json<{ tasks: string[] }>("/api/queue/fixture.prio")).tasks).toEqual([]);
    // Python's route names work too
    res = await post(`/${TS.crasher}/cancel_pending`, {}, { accept: "application/json" });
    expect(await res.json()).toMatchObject({ done: 1 });
    // make a crashed task again and cancel it
    const fork = (await world.backend.getTask(world.ts.crashedFork))!;
    fork.setStatus(TaskState.Crashed);
    await world.backend.saveTasks([fork]);
    res = await post(`/queue/${TS.crasher}/cancel_crashed`, {}, { accept: "application/json" });
    expect(await res.json()).toMatchObject({ done: 1 });
    expect((await world.backend.getTask(world.ts.crashedFork))?.status).toBe(TaskState.Finished);
    expect((await post("/queue/nope/cancel_pending")).status).toBe(404);
  });

  it("refuses state changes by GET, without CSRF token, with a wrong one or from another origin", async () => {
    expect((await client.fetch(`/task/${enc(PY.analyzerFork)}/cancel`)).status).toBe(404);
    const path = `/task/${enc(PY.reporterFork)}/cancel`;
    let res = await client.fetch(path, { method: "POST", form: {} });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("CSRF check failed: missing CSRF token");
    res = await client.fetch(path, { method: "POST", form: { _csrf: "A".repeat(43) } });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("CSRF check failed: wrong CSRF token");
    res = await client.fetch(path, {
      method: "POST",
      form: { _csrf: client.csrf },
      headers: { origin: "http://attacker.example" },
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain(
      "the request comes from another site (Origin: http://attacker.example)",
    );
    res = await client.fetch(path, {
      method: "POST",
      form: { _csrf: client.csrf },
      headers: { referer: "http://attacker.example/x" },
    });
    expect(res.status).toBe(403);
    const fresh = new Client(world.server.origin);
    res = await fresh.fetch(path, {
      method: "POST",
      headers: { accept: "application/json", "x-csrf-token": "abc" },
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: expect.stringContaining("no CSRF cookie") });
    expect((await world.backend.getTask(PY.reporterFork))?.status).toBe(TaskState.Spawned);
  });
});

describe("dashboard with [dashboard] token", () => {
  const TOKEN = "tok-3f9a7c1e-super-secret";
  let world: DashboardWorld;
  let server: RunningServer;
  let client: Client;

  beforeAll(async () => {
    world = await dashboardWorld({ token: TOKEN });
    server = world.server;
    client = new Client(server.origin);
    await client.fetch("/");
  }, 120_000);
  afterAll(async () => {
    await world?.close();
  });

  it("pages never show the token; action buttons become log-in links", async () => {
    for (const path of [
      "/",
      "/queue/fixture.crasher/crashed",
      `/task/${enc(PY.crashedFork)}`,
      "/login",
      "/services",
      "/api/queues",
    ]) {
      expect(await client.text(path)).not.toContain(TOKEN);
    }
    const page = await client.text("/queue/fixture.crasher/crashed");
    expect(page).toContain(`href="/login?next=${enc("/queue/fixture.crasher/crashed")}"`);
    expect(page).not.toContain("/restart_crashed");
  });

  it("refuses actions without the token (403), with a wrong one, and accepts Bearer, form field and session", async () => {
    const origin = { origin: server.origin };
    const path = `/task/${enc(PY.reporterFork)}/cancel`;
    let res = await client.fetch(path, { method: "POST", form: { _csrf: client.csrf }, headers: origin });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("this action needs the dashboard token");
    res = await client.fetch(path, {
      method: "POST",
      form: { _csrf: client.csrf, token: "wrong" },
      headers: origin,
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("wrong dashboard token");
    res = await client.fetch(path, {
      method: "POST",
      headers: { authorization: "Bearer wrong", accept: "application/json" },
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({
      error: "Forbidden: wrong dashboard token in the Authorization header",
    });
    expect((await world.backend.getTask(PY.reporterFork))?.status).toBe(TaskState.Spawned);

    // Bearer: no CSRF token needed (API clients)
    res = await client.fetch(`/task/${enc(PY.analyzerFork)}/restart`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, accept: "application/json" },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      old_uid: PY.analyzerFork,
      identity: "fixture.analyzer",
      previous_status: "Finished",
    });

    // form field token (+ CSRF)
    res = await client.fetch(path, {
      method: "POST",
      form: { _csrf: client.csrf, token: TOKEN },
      headers: origin,
    });
    expect(res.status).toBe(303);
    expect((await world.backend.getTask(PY.reporterFork))?.status).toBe(TaskState.Finished);

    // log-in page: CSRF-protected, wrong token refused, right token → HttpOnly SameSite=Strict session
    res = await client.fetch("/login", {
      method: "POST",
      form: { token: TOKEN, next: "/" },
      headers: origin,
    });
    expect(res.status).toBe(403);
    res = await client.fetch("/login", {
      method: "POST",
      form: { _csrf: client.csrf, token: "nope", next: "/" },
      headers: origin,
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("Wrong token.");
    res = await client.fetch("/login", {
      method: "POST",
      form: { _csrf: client.csrf, token: TOKEN, next: "//evil.example/" },
      headers: origin,
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/");
    const cookie = res.headers
      .getSetCookie()
      .find((c) => c.startsWith("karton_dashboard_session=")) as string;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).not.toContain(TOKEN);
    const page = await client.text("/queue/fixture.crasher/crashed");
    expect(page).toContain("/restart_crashed");
    expect(page).toContain("Log out");
    res = await client.fetch("/queue/fixture.crasher/cancel_crashed", {
      method: "POST",
      form: { _csrf: client.csrf },
      headers: origin,
    });
    expect(res.status).toBe(303);
    expect((await world.backend.getTask(PY.crashedFork))?.status).toBe(TaskState.Finished);
    // the session cookie alone is not enough: CSRF still applies
    res = await client.fetch("/queue/fixture.prio/cancel_pending", {
      method: "POST",
      form: {},
      headers: origin,
    });
    expect(res.status).toBe(403);
    // log out: the session is gone
    res = await client.fetch("/logout", { method: "POST", form: { _csrf: client.csrf }, headers: origin });
    expect(res.status).toBe(303);
    res = await client.fetch("/queue/fixture.prio/cancel_pending", {
      method: "POST",
      form: { _csrf: client.csrf },
      headers: origin,
    });
    expect(res.status).toBe(403);
  });

  it("a dashboard under a base path serves and protects everything below it", async () => {
    const dash = createDashboardApp({
      backend: world.backend,
      settings: makeSettings({ basePath: "/karton/", token: TOKEN }),
    });
    const other = await startServer(dash.fetch, { host: "127.0.0.1", port: 0 });
    try {
      const c = new Client(other.origin);
      const page = await c.text("/karton/");
      expect(page).toContain('href="/karton/queue/fixture.prio"');
      expect(page).toContain('href="/karton/static/dashboard.css?v=');
      expect((await c.fetch("/")).status).toBe(404);
      expect((await c.fetch("/karton/metrics")).status).toBe(200);
      const login = await c.fetch("/karton/login", {
        method: "POST",
        form: { _csrf: c.csrf, token: TOKEN, next: "/queue/fixture.prio" },
        headers: { origin: other.origin },
      });
      expect(login.status).toBe(303);
      expect(login.headers.get("location")).toBe("/karton/queue/fixture.prio");
      expect(login.headers.getSetCookie().join("\n")).toContain("Path=/karton");
    } finally {
      await other.close();
    }
  });
});
