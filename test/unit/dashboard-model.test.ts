/** Pure parts of the dashboard: escaping, Markdown, formatting, pagination, graph, cache, settings, metrics, security. */
import { describe, expect, it } from "vitest";
import type { Bind } from "../../src/bind/bind.js";
import { safeNext } from "../../src/dashboard/app.js";
import { formatAge, formatBytes, lastErrorLine, prettyJson, shortUid } from "../../src/dashboard/format.js";
import { buildGraph } from "../../src/dashboard/graph.js";
import { escapeHtml, html, jsonForScript, raw } from "../../src/dashboard/html.js";
import { dedent, renderMarkdown } from "../../src/dashboard/markdown.js";
import { safeMetricName } from "../../src/dashboard/metrics.js";
import { paginate, parsePage, taskMatches } from "../../src/dashboard/paginate.js";
import { contentDisposition, downloadName, taskResources } from "../../src/dashboard/resources.js";
import { Security } from "../../src/dashboard/security.js";
import { expandXrefs, isSafeXrefTemplate, normalizeBasePath } from "../../src/dashboard/settings.js";
import { TtlCache } from "../../src/dashboard/state-cache.js";
import { parse } from "../../src/json/index.js";
import { parseTask } from "../../src/task/document.js";
import { Task } from "../../src/task/task.js";
import { readFixtureJson } from "../helpers/fixtures.js";

describe("html", () => {
  it("escapes interpolated values, keeps fragments, joins arrays, drops null/false", () => {
    const evil = `<script>"x" & 'y'</script>`;
    expect(escapeHtml(evil)).toBe("&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;");
    expect(html`<p title="${evil}">${evil}</p>`.value).toBe(
      `<p title="${escapeHtml(evil)}">${escapeHtml(evil)}</p>`,
    );
    expect(html`<ul>${["a<", "b"].map((x) => html`<li>${x}</li>`)}</ul>`.value).toBe(
      "<ul><li>a&lt;</li><li>b</li></ul>",
    );
    expect(html`${null}${undefined}${false}${0}${raw("<br>")}`.value).toBe("0<br>");
    expect(jsonForScript({ a: "</script><!--" }).value).toBe('{"a":"\\u003c/script\\u003e\\u003c!--"}');
  });
});

describe("markdown", () => {
  it("dedents docstrings like textwrap.dedent", () => {
    expect(dedent("\n    Line one\n      indented\n\n    Line two\n    ")).toBe(
      "Line one\n  indented\n\nLine two",
    );
  });

  it("renders paragraphs, lists, code, emphasis and safe links; escapes everything else", () => {
    const out = renderMarkdown(
      "\n    # Title\n\n    Some *em* and **strong** and `co<de>`.\n    See [docs](https://example.com/a?b=1&c=2) or https://x.example/p.\n\n    - one\n    - two <b>\n\n        indented code <x>\n\n    ```\n    fenced <y>\n    ```\n",
    ).value;
    expect(out).toContain("<h3>Title</h3>");
    expect(out).toContain("<em>em</em>");
    expect(out).toContain("<strong>strong</strong>");
    expect(out).toContain("<code>co&lt;de&gt;</code>");
    expect(out).toContain(
      '<a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow">docs</a>',
    );
    expect(out).toContain(
      '<a href="https://x.example/p" rel="noopener noreferrer nofollow">https://x.example/p</a>.',
    );
    expect(out).toContain("<ul><li>one</li><li>two &lt;b&gt;</li></ul>");
    expect(out).toContain("<pre><code>indented code &lt;x&gt;</code></pre>");
    expect(out).toContain("<pre><code>fenced &lt;y&gt;</code></pre>");
  });

  it("never lets markup or script URLs through", () => {
    const out = renderMarkdown(
      `<img src=x onerror=alert(1)> [x](javascript:alert(1)) [y](data:text/html,hi) <a href="https://e">z</a> "quote"`,
    ).value;
    expect(out).not.toMatch(/<img|<a href="javascript|<a href="data|<a href="https:\/\/e">/i);
    expect(out).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(out).toContain("x (javascript:alert(1))");
    expect(out).toContain("&quot;quote&quot;");
  });

  it("renders the documented Python bind's docstring", () => {
    const binds = readFixtureJson("binds/binds.json") as {
      binds: { hash_field: string; parsed: { info: string | null } }[];
    };
    const documented = binds.binds.find((b) => b.hash_field === "fixture.bind.documented");
    const out = renderMarkdown(documented?.parsed.info ?? "").value;
    expect(out).toContain("<p>Fixture consumer with a docstring.");
    expect(out).not.toMatch(/^\s/);
  });
});

describe("formatting", () => {
  it("formats ages, sizes, short uids and error lines", () => {
    expect(formatAge(100, 142)).toBe("42 seconds ago");
    expect(formatAge(0, 600)).toBe("10 minutes ago");
    expect(formatAge(0, 5 * 3600)).toBe("5 hours ago");
    expect(formatAge(0, 10 * 86400)).toBe("10 days ago");
    expect(formatAge(10, 5)).toBe("in 5 seconds");
    expect(formatBytes(21)).toBe("21 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(5 * 1024 * 1024)).toBe("5.0 MiB");
    expect(formatBytes(null)).toBe("unknown size");
    expect(shortUid("{r}:abc")).toBe("abc");
    expect(shortUid("abc")).toBe("abc");
    expect(lastErrorLine(["Traceback:\n", "  File x\n    y\n", "ValueError: boom\n"])).toBe(
      "ValueError: boom",
    );
    expect(lastErrorLine(null)).toBe("");
  });

  it("pretty-prints documents losslessly", () => {
    const value = parse('{"big": 1180591620717411303424, "f": 1.0, "n": NaN, "s": "é", "a": [], "o": {}}');
    expect(prettyJson(value)).toBe(
      '{\n  "big": 1180591620717411303424,\n  "f": 1.0,\n  "n": NaN,\n  "s": "é",\n  "a": [],\n  "o": {}\n}',
    );
  });
});

describe("pagination and search", () => {
  it("cuts pages and clamps the page number", () => {
    const items = Array.from({ length: 120 }, (_, i) => i);
    expect(paginate(items, 1, 50)).toMatchObject({ page: 1, pages: 3, total: 120, from: 0, to: 50 });
    expect(paginate(items, 3, 50).items).toEqual(items.slice(100));
    expect(paginate(items, 99, 50).page).toBe(3);
    expect(paginate([], 1, 50)).toMatchObject({ page: 1, pages: 1, total: 0 });
    expect(parsePage("2")).toBe(2);
    expect(parsePage("-1")).toBe(1);
    expect(parsePage("x")).toBe(1);
    expect(parsePage(undefined)).toBe(1);
  });

  it("matches uids, root uids and headers (key:value, key=value, free words)", () => {
    const task = new Task(
      { type: "sample", kind: "raw", size: 42 },
      { uid: "{root-1}:abc-def", rootUid: "root-1" },
    );
    expect(taskMatches(task, "")).toBe(true);
    expect(taskMatches(task, "abc")).toBe(true);
    expect(taskMatches(task, "ROOT-1")).toBe(true);
    expect(taskMatches(task, "kind:raw")).toBe(true);
    expect(taskMatches(task, "kind=ra")).toBe(true);
    expect(taskMatches(task, "size:42 sample")).toBe(true);
    expect(taskMatches(task, "kind:zip")).toBe(false);
    expect(taskMatches(task, "sample nothing")).toBe(false);
  });
});

describe("resources of a task", () => {
  it("finds markers at any depth, persistent payload first, with sizes and hashes", () => {
    const doc = readFixtureJson("tasks/08-nested-resources.json") as { tasks: { raw: string }[] };
    const task = parseTask(doc.tasks[0]!.raw, { decodeResources: false });
    const resources = taskResources(task);
    expect(resources.length).toBeGreaterThanOrEqual(4);
    expect(resources[0]!.path.startsWith("payload_persistent")).toBe(true);
    for (const r of resources) {
      expect(r.uid).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.size).toBeGreaterThan(0);
      expect(r.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it("makes safe download names", () => {
    const base = { path: "p", uid: "u", bucket: null, size: 1, sha256: "h", flags: [] };
    expect(downloadName({ ...base, name: "../../etc/passwd" })).toBe("passwd");
    expect(downloadName({ ...base, name: 'a"b\r\n.exe' })).toBe("a_b__.exe");
    expect(downloadName({ ...base, name: ".." })).toBe("h");
    expect(contentDisposition("é.bin")).toBe(`attachment; filename="_.bin"; filename*=UTF-8''%C3%A9.bin`);
  });
});

function bind(identity: string, filters: Bind["filters"]): Bind {
  return {
    identity,
    filters,
    info: null,
    version: "5.9.1",
    persistent: true,
    serviceVersion: null,
    isAsync: false,
  };
}

describe("graph", () => {
  it("links producers to consumers with the real filter engine and lays out layers", () => {
    const binds = [
      bind("unpacker", [{ type: "sample", kind: "archive" }]),
      bind("analyzer", [{ type: "sample", kind: "!archive" }]),
      bind("glob", [{ platform: "win*" }]),
      bind("query", [{ size: { $gt: 100 } }]),
      bind("lonely", [{ type: "nothing" }]),
      bind("broken", [{ size: { $bogus: 1 } }]),
    ];
    const outputs = new Map([
      ["producer", [{ type: "sample", kind: "archive", size: 10 }]],
      ["unpacker", [{ type: "sample", kind: "raw", platform: "win64", size: 1000 }]],
      ["analyzer", [{ type: "sample", kind: "archive" }]],
    ]);
    const graph = buildGraph(binds, outputs, new Map([["analyzer", 2]]));
    const edges = graph.edges.map((e) => `${e.from}>${e.to}`);
    expect(edges).toEqual([
      "analyzer>unpacker",
      "producer>unpacker",
      "unpacker>analyzer",
      "unpacker>glob",
      "unpacker>query",
    ]);
    expect(graph.isolated).toEqual(["broken", "lonely"]);
    const node = (id: string) => graph.nodes.find((n) => n.identity === id)!;
    expect(node("producer")).toMatchObject({ producer: true, consumer: false, layer: 0 });
    expect(node("unpacker").layer).toBe(1);
    expect(node("analyzer")).toMatchObject({ layer: 2, replicas: 2 });
    // the edge closing the unpacker ⇄ analyzer cycle is drawn as a back edge
    expect(graph.edges.find((e) => e.from === "analyzer" && e.to === "unpacker")?.back).toBe(true);
  });
});

describe("TtlCache", () => {
  it("loads once for concurrent callers, reuses within the TTL, reloads after it and after invalidate", async () => {
    let now = 1000;
    let loads = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const cache = new TtlCache(
      async () => {
        loads++;
        if (loads === 1) await gate;
        return loads;
      },
      5000,
      () => now,
    );
    const calls = [cache.get(), cache.get(), cache.get()];
    release();
    const values = await Promise.all(calls);
    expect(values.map((v) => v.value)).toEqual([1, 1, 1]);
    expect(cache.loads).toBe(1);
    now += 4999;
    expect((await cache.get()).value).toBe(1);
    now += 1;
    expect((await cache.get()).value).toBe(2);
    cache.invalidate();
    expect((await cache.get()).value).toBe(3);
  });

  it("does not keep failures", async () => {
    let fail = true;
    const cache = new TtlCache(async () => {
      if (fail) throw new Error("redis down");
      return "ok";
    }, 5000);
    await expect(cache.get()).rejects.toThrow("redis down");
    fail = false;
    expect((await cache.get()).value).toBe("ok");
  });
});

describe("settings, metrics names, redirects", () => {
  it("normalises base paths and checks xref templates", () => {
    expect(normalizeBasePath("")).toBe("");
    expect(normalizeBasePath("/")).toBe("");
    expect(normalizeBasePath("karton/")).toBe("/karton");
    expect(normalizeBasePath("/a/b//")).toBe("/a/b");
    expect(isSafeXrefTemplate("https://mwdb/{root_uid}")).toBe(true);
    expect(isSafeXrefTemplate("/local/{root_uid}")).toBe(true);
    expect(isSafeXrefTemplate("javascript:alert(1)")).toBe(false);
    expect(isSafeXrefTemplate("//evil/{root_uid}")).toBe(false);
    expect(
      expandXrefs({ Z: "https://z/{root_uid}?r={root_uid}", A: "javascript:x", B: "/b/{root_uid}" }, "r-1"),
    ).toEqual([
      { label: "B", url: "/b/r-1" },
      { label: "Z", url: "https://z/r-1?r=r-1" },
    ]);
  });

  it("uses Python's label form of identities", () => {
    expect(safeMetricName("Karton.Classifier-v2")).toBe("karton_classifier_v2");
  });

  it("redirects only to local paths", () => {
    expect(safeNext("/queue/x?page=2")).toBe("/queue/x?page=2");
    expect(safeNext("//evil.example")).toBeUndefined();
    expect(safeNext("https://evil.example")).toBeUndefined();
    expect(safeNext("/\\evil")).toBeUndefined();
    expect(safeNext(undefined)).toBeUndefined();
  });
});

describe("security sessions", () => {
  it("issues sessions bound to the token and the clock", () => {
    let now = 1_000_000;
    const refuse = () => new Response();
    const a = new Security({ token: "one", cookiePath: "/", refuse, now: () => now, sessionSeconds: 60 });
    const b = new Security({ token: "two", cookiePath: "/", refuse, now: () => now });
    const none = new Security({ token: undefined, cookiePath: "/", refuse });
    const session = a.newSession();
    expect(session).not.toContain("one");
    expect(a.checkSession(session)).toBe(true);
    expect(b.checkSession(session)).toBe(false);
    expect(none.checkSession(session)).toBe(false);
    const [v, expires, mac] = session.split(".") as [string, string, string];
    const tampered = `${v}.${expires}.${mac.startsWith("A") ? "B" : "A"}${mac.slice(1)}`;
    expect(a.checkSession(tampered)).toBe(false);
    expect(a.checkSession(`${v}.${Number(expires) + 1}.${mac}`)).toBe(false);
    expect(a.checkSession("v1.99999999999.x")).toBe(false);
    now += 61;
    expect(a.checkSession(session)).toBe(false);
    expect(a.checkToken("one")).toBe(true);
    expect(a.checkToken("one ")).toBe(false);
    expect(none.checkToken("")).toBe(false);
    expect(none.tokenRequired).toBe(false);
  });
});
