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

  it("serves objects from the buckets through the GCS adapter, and 404 for missing ones", async () => {
    t.gcs.putObject("models", "default/evaluations/e1/summary.md", "# Evaluation e1\n", "text/markdown");
    const res = await fetch(`${t.url}/objects/models/default/evaluations/e1/summary.md`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("# Evaluation e1\n");
    expect((await fetch(`${t.url}/objects/models/nope.md`)).status).toBe(404);
  });
});
