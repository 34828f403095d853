import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { overrideDeps } from "../../shared/runtime/gcp.ts";
import { startFunction, type FunctionTest } from "./harness.ts";
import { seedItem } from "./seed.ts";

let t: FunctionTest;
beforeAll(async () => {
  t = await startFunction("dashboard");
});
afterAll(async () => t.close());

describe("dashboard function", () => {
  it("answers 503 without details when its deps cannot be built (cold start misconfigured)", async () => {
    // No injected deps: the function builds real ones from process.env, which names no project.
    overrideDeps(null);
    const saved = { project: process.env.GOOGLE_CLOUD_PROJECT, region: process.env.REGION };
    delete process.env.GOOGLE_CLOUD_PROJECT;
    delete process.env.REGION;
    try {
      const res = await fetch(`${t.url}/`);
      expect(res.status).toBe(503);
      expect(await res.text()).toBe("dashboard unavailable, try again shortly\n");
    } finally {
      if (saved.project !== undefined) process.env.GOOGLE_CLOUD_PROJECT = saved.project;
      if (saved.region !== undefined) process.env.REGION = saved.region;
      t.restoreDatabase(); // re-injects the test deps
    }
  });

  it("serves the status snapshot from the database", async () => {
    await seedItem(t.db, { id: "it_dash_1", state: "registered", productName: "dash-1", width: 4, height: 4 });
    await seedItem(t.db, { id: "it_dash_2", state: "accepted", productName: "dash-2", width: 4, height: 4 });
    const res = await fetch(`${t.url}/api/status`);
    expect(res.status).toBe(200);
    const snapshot = (await res.json()) as { itemsByState: Record<string, number> };
    expect(snapshot.itemsByState.registered).toBe(1);
    expect(snapshot.itemsByState.accepted).toBe(1);
  });

  it("serves the HTML page", async () => {
    const res = await fetch(`${t.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await res.text()).toContain("<html");
  });

  it("serves the item gallery with thumbnails read from the annotation bucket, and an item page", async () => {
    await seedItem(t.db, { id: "it_dash_3", state: "registered", productName: "dash-3", width: 4, height: 4 });
    t.gcs.putObject("annotation", "items/dash-3/dash-3.png", "png-bytes", "image/png");
    const gallery = await fetch(`${t.url}/items?state=registered`);
    expect(gallery.status).toBe(200);
    const page = await gallery.text();
    expect(page).toContain(`<img src="/objects/annotation/items/dash-3/dash-3.png" alt="dash-3 image"`);
    const thumb = await fetch(`${t.url}/objects/annotation/items/dash-3/dash-3.png`);
    expect(thumb.headers.get("content-type")).toBe("image/png");
    expect(await thumb.text()).toBe("png-bytes");
    const item = await fetch(`${t.url}/items/it_dash_3`);
    expect(item.status).toBe(200);
    expect(await item.text()).toContain("uploads/dash-3.png");
  });

  it("serves objects from the buckets through the GCS adapter, and 404 for missing ones", async () => {
    t.gcs.putObject("models", "default/evaluations/e1/summary.md", "# Evaluation e1\n", "text/markdown");
    const res = await fetch(`${t.url}/objects/models/default/evaluations/e1/summary.md`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("# Evaluation e1\n");
    expect((await fetch(`${t.url}/objects/models/nope.md`)).status).toBe(404);
  });
});
