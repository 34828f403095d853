import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DemoDriver } from "../../shared/demo/driver.ts";
import { startLocalRuntime, type LocalRuntime } from "../../shared/runtime/local.ts";
import { createTestDb, testDbKind } from "../helpers/db.ts";

/**
 * The dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core),
 * served by a local runtime that ran the demo until its first promotion: every page loads with no
 * console error, every picture decodes, the keyboard reaches the links. Screenshots of each page
 * are kept under test-artifacts/dashboard/ (gitignored) for a person to look at.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = join(import.meta.dirname, "..", "..", "test-artifacts", "dashboard");
const PRODUCTS = 8;

describe(`the dashboard in headless Chromium (${testDbKind})`, () => {
  let workspace: string;
  let runtime: LocalRuntime;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium; .ci/run does) or set CHROMIUM_PATH`);
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    workspace = mkdtempSync(join(tmpdir(), "mlops-browser-"));
    runtime = await startLocalRuntime({
      db: await createTestDb(),
      timers: false,
      say: () => undefined,
      env: {
        ...process.env,
        DATABASE_URL: undefined,
        MLOPS_WORKSPACE: workspace,
        PORT: "0",
        LOG_LEVEL: "warn",
        THRESHOLD_N: String(PRODUCTS),
        THRESHOLD_M: String(PRODUCTS),
        EVAL_SPLIT_PERCENT: "40",
        TRAIN_PARAMS: JSON.stringify({ epochs: 4, samplesPerImage: 800 }),
        PROMOTION_POLICY: JSON.stringify({ min_eval_items: 1, primary_metric: { name: "mIoU", threshold: 0 } }),
      },
    });
    const demo = new DemoDriver(
      { ...runtime.deps, store: runtime.store, say: () => undefined },
      { products: PRODUCTS, size: 48, uploadIntervalMs: 20, badLabelShare: 0.3, labelDelayMs: [20, 100], corruptUploads: true, seed: 5 },
    );
    await demo.start();
    const deadline = Date.now() + 600_000;
    while (Date.now() < deadline) {
      await runtime.publish("poll.tick", { reason: "schedule" });
      await runtime.publish("reconcile.tick", { reason: "schedule" });
      await new Promise((r) => setTimeout(r, 700));
      if ((await runtime.deps.db.query(`SELECT 1 FROM alias_moves`)).rowCount > 0) break;
    }
    demo.stop();
    expect((await runtime.deps.db.query(`SELECT 1 FROM alias_moves`)).rowCount, "the demo reached its first promotion").toBeGreaterThan(0);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
  }, 900_000);

  afterAll(async () => {
    await browser?.close();
    await runtime?.stop();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  });

  /** Opens a page, collecting console errors and failed requests from the first byte. */
  async function open(path: string): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
    page.on("requestfailed", (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`));
    page.on("response", (r) => {
      if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    const response = await page.goto(new URL(path.replace(/^\//, ""), runtime.url!).toString(), { waitUntil: "load" });
    expect(response?.status(), path).toBe(200);
    return { page, errors };
  }

  /**
   * Loads every picture (lazy ones too) and returns those that did not decode. Browser code is
   * passed as text: this project compiles without the DOM library.
   */
  async function brokenImages(page: Page): Promise<{ count: number; broken: string[] }> {
    return (await page.evaluate(`(async () => {
      const imgs = [...document.querySelectorAll("img")];
      for (const img of imgs) img.loading = "eager";
      await Promise.all(imgs.map((img) => img.decode().catch(() => undefined)));
      // SVG <image> (the label overlay) has no naturalWidth: fetch what it shows instead.
      const svgImages = [...document.querySelectorAll("image")].map((i) => i.getAttribute("href") || "");
      const svgBroken = [];
      for (const href of svgImages) {
        const res = await fetch(href);
        if (!res.ok || !(res.headers.get("content-type") || "").startsWith("image/")) svgBroken.push(href);
      }
      return {
        count: imgs.length + svgImages.length,
        broken: [...imgs.filter((img) => !(img.complete && img.naturalWidth > 0)).map((img) => img.currentSrc || img.src), ...svgBroken],
      };
    })()`)) as { count: number; broken: string[] };
  }

  /** The focused element as "TAG href". */
  const focused = async (page: Page) => (await page.evaluate(`(() => { const e = document.activeElement; return (e ? e.tagName : "") + " " + ((e && e.getAttribute("href")) || ""); })()`)) as string;

  async function screenshot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
    expect(existsSync(join(ARTIFACTS, `${name}.png`))).toBe(true);
  }

  it("shows the overview with no console error, and the keyboard reaches its links", async () => {
    const { page, errors } = await open("/");
    expect(await page.locator("h1").first().textContent()).toBeTruthy();
    // Tab from the top of the page: the first stops are links, and Enter on "Items" opens the gallery.
    const reached: string[] = [];
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press("Tab");
      reached.push(await focused(page));
    }
    expect(reached[0]).toMatch(/^A /);
    const itemsStop = reached.findIndex((r) => /^A \/items$/.test(r));
    expect(itemsStop, `tab stops: ${reached.join(" | ")}`).toBeGreaterThanOrEqual(0);
    await page.keyboard.press("Shift+Tab");
    await page.keyboard.press("Tab");
    expect(await focused(page)).toBe(reached[reached.length - 1]);
    await screenshot(page, "overview");
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows at least 6 item thumbnails that load, filterable by state", async () => {
    const { page, errors } = await open("/items");
    const images = await brokenImages(page);
    expect(images.broken).toEqual([]);
    expect(images.count).toBeGreaterThanOrEqual(6);
    // RGB, NIR and no-data renderings are all there.
    const alts = await page.locator("img").evaluateAll((els) => els.map((e) => e.getAttribute("alt") ?? ""));
    expect(alts.some((a) => a.endsWith(" RGB"))).toBe(true);
    expect(alts.some((a) => a.endsWith(" NIR"))).toBe(true);
    await screenshot(page, "items");

    await page.getByRole("link", { name: /^failed/ }).click();
    await page.waitForURL(/state=failed/);
    const cards = await page.locator(".gallery .card").count();
    expect(cards).toBe(3);
    expect(await page.locator(".gallery .badge").allTextContents()).toEqual(["failed", "failed", "failed"]);
    expect(await page.locator(".gallery .reason").count()).toBe(3);
    await screenshot(page, "items-failed");
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows an item page with its pictures, label overlay and state history with reasons", async () => {
    const { page, errors } = await open("/items?state=in_dataset");
    // Let the gallery's pictures finish first: leaving mid-load would abort them (and count as errors).
    expect((await brokenImages(page)).broken).toEqual([]);
    await page.locator(".gallery .card-title").first().click();
    await page.waitForURL(/\/items\/[^/?]+$/);
    const images = await brokenImages(page);
    expect(images.broken).toEqual([]);
    expect(images.count).toBeGreaterThanOrEqual(3);
    expect(await page.locator("svg.overlay polygon, svg.overlay path, svg.overlay rect").count()).toBeGreaterThan(0);
    const history = await page.locator("#history-title + .table-wrap tbody tr").allTextContents();
    expect(history.join("\n")).toMatch(/in_dataset/);
    expect(await page.locator("#versions-title ~ ul li").count()).toBeGreaterThan(0);
    await screenshot(page, "item");
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows the evaluation with a confusion-matrix heatmap, reached from the overview", async () => {
    const { page, errors } = await open("/");
    await page.locator("#evaluations a[href*='/evaluations/']").first().click();
    await page.waitForURL(/\/evaluations\//);
    expect(await page.locator("svg.heatmap rect").count()).toBeGreaterThanOrEqual(4);
    expect(await page.locator(".reviews li").count()).toBeGreaterThan(0);
    const images = await brokenImages(page);
    expect(images.broken).toEqual([]);
    // The candidate's worst and best items: input, label and prediction pictures that decoded.
    const predictions = page.locator(".examples-model[data-role=candidate] img[alt$='candidate prediction']");
    expect(await predictions.count()).toBeGreaterThanOrEqual(1);
    const widths = (await page.locator("#examples-title ~ .examples-model img").evaluateAll(
      (els) => els.map((e) => [e.getAttribute("alt") ?? "", (e as unknown as { naturalWidth: number }).naturalWidth] as const),
    ));
    expect(widths.length).toBeGreaterThanOrEqual(3);
    expect(widths.filter(([, w]) => !(w > 0))).toEqual([]);
    expect(widths.every(([alt]) => /^\S+ (input \(RGB\)|label|(candidate|champion) prediction)$/.test(alt))).toBe(true);
    await screenshot(page, "evaluation");
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows a run's per-epoch curves, reached from the overview", async () => {
    const { page, errors } = await open("/");
    await page.locator("#runs a[href^='/runs/run_']").first().click();
    await page.waitForURL(/\/runs\/run_[^/?]+$/);
    // The baseline trainer ran 4 epochs: loss, held-out mIoU and pixel accuracy each have a point per epoch.
    expect(await page.locator("svg.curves [data-series='loss'] circle.dot").count()).toBe(4);
    expect(await page.locator("svg.curves [data-series='mIoU'] circle.dot").count()).toBe(4);
    await screenshot(page, "run");
    expect(errors).toEqual([]);
    await page.close();
  });
});
