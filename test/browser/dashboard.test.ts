/**
 * The dashboard in a real browser: Debian's headless Chromium (installed by scripts/browser.sh when
 * missing) driven by playwright-core, against a dashboard over real Redis + S3 holding Python and
 * TypeScript data (./dashboard-world.ts). Screenshots of the main pages go to test-artifacts/dashboard/.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskState } from "../../src/task/enums.js";
import { type DashboardWorld, dashboardWorld, PY, TS } from "./dashboard-world.js";

const ARTIFACTS = join(process.cwd(), "test-artifacts", "dashboard");

function chromiumPath(): string {
  return execFileSync("bash", ["scripts/browser.sh", "ensure"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  })
    .trim()
    .split("\n")
    .pop() as string;
}

describe("dashboard in Chromium", () => {
  let world: DashboardWorld;
  let context: BrowserContext;
  let page: Page;
  let profile: string;

  beforeAll(async () => {
    const executablePath = chromiumPath();
    mkdirSync(ARTIFACTS, { recursive: true });
    world = await dashboardWorld({ stateTtlSeconds: 0.5, refreshSeconds: 1 });
    profile = mkdtempSync(join(tmpdir(), "karton-dash-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-quic",
      ],
      viewport: { width: 1400, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("dialog", (dialog) => void dialog.accept());
  }, 600_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await world?.close();
  });

  const shot = async (name: string) => {
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  };

  it("queues page → crashed task → restart → pending again", async () => {
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    await page.goto(world.url("/"));
    await expect.poll(() => page.title()).toContain("Queues");
    const row = page.locator("#queues tbody tr", { hasText: TS.crasher });
    await expect.poll(() => row.locator('[data-count="crashed"]').textContent()).toBe("1");
    await shot("queues");

    await row.locator('a:has([data-count="crashed"])').click();
    await page.waitForURL(/\/queue\/dash\.ts-crasher\/crashed$/);
    expect(await page.locator("table").first().textContent()).toContain(TS.crashMessage);
    await shot("queue-crashed");

    await page.locator("td.uid a").first().click();
    await page.waitForURL(/\/task\//);
    expect(await page.locator("[data-task-status]").textContent()).toBe("Crashed");
    expect(await page.locator("#error").textContent()).toContain(TS.crashMessage);
    await shot("task-crashed");

    await page.getByRole("button", { name: "Restart" }).click();
    await page.waitForURL(/notice=restarted/);
    expect(await page.locator(".notice").textContent()).toContain("Task restarted");
    expect(await page.locator("[data-task-status]").textContent()).toBe("Spawned");
    const newUid = decodeURIComponent(new URL(page.url()).pathname.split("/task/")[1] as string);
    expect(newUid).not.toBe(world.ts.crashedFork);
    expect((await world.backend.getTask(world.ts.crashedFork))?.status).toBe(TaskState.Finished);
    expect(await world.backend.queueLengths(TS.crasher)).toMatchObject({ normal: 1 });
    await shot("task-restarted");

    await page.goto(world.url(`/queue/${TS.crasher}`));
    expect(await page.locator('[data-count="pending"]').first().textContent()).toBe("1");
    expect(await page.locator("td.uid").first().textContent()).toContain(newUid.split(":").pop() as string);
    await shot("queue-pending");
    expect(errors).toEqual([]);
  });

  it("shows the Python crashed fork with its traceback, its analysis, services and graph", async () => {
    await page.goto(world.url(`/task/${encodeURIComponent(PY.crashedFork)}`));
    expect(await page.locator("#error").textContent()).toContain(PY.crashError);
    expect(await page.locator("#error").textContent()).toContain(
      'File "/srv/fixture-capture/services.py", line 53',
    );
    await shot("task-python-crashed");

    await page.goto(world.url(`/analysis/${PY.root}`));
    expect(await page.locator("h1").textContent()).toContain(PY.root);
    await shot("analysis");

    await page.goto(world.url("/services"));
    expect(await page.locator("#services").textContent()).toContain("karton.dashboard");
    await shot("services");

    await page.goto(world.url("/graph"));
    expect(await page.locator("svg .node").count()).toBeGreaterThan(3);
    await shot("graph");

    await page.goto(world.url("/queue/fixture.crasher"));
    await shot("queue-python");
  });

  it("refreshes counts without reloading the page", async () => {
    await page.goto(world.url("/"));
    const cell = page.locator(`[data-count="pending"][data-queue="${TS.unpacker}"]`);
    expect(await cell.textContent()).toBe("1");
    await page.evaluate(() => {
      (globalThis as unknown as { marker: number }).marker = 42;
    });
    const task = await world.backend.getTask(world.ts.pendingFork);
    await world.backend.setTaskStatus(task!, TaskState.Finished);
    await expect.poll(() => cell.textContent(), { timeout: 15_000 }).toBe("0");
    // Same document: no navigation happened.
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(42);
  });
});
