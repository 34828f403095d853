import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeDemoProduct } from "../../shared/adapters/demo/products.ts";
import { startLocalRuntime, type LocalRuntime } from "../../shared/runtime/local.ts";
import type { Db } from "../../shared/ports.ts";
import { createTestDb } from "../helpers/db.ts";
import { parsePrometheus, sample } from "../helpers/prometheus.ts";
import { pointAlias, seedServedModel } from "../helpers/serving.ts";

/** The local runtime serves predictions and /metrics on its dashboard port. */
describe("local runtime: model server on the dashboard port", () => {
  let runtime: LocalRuntime;
  let db: Db;
  let workspace: string;

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), "mlops-serve-local-"));
    db = await createTestDb();
    runtime = await startLocalRuntime({
      db, timers: false, say: () => undefined,
      env: { ...process.env, DATABASE_URL: undefined, MLOPS_WORKSPACE: workspace, PORT: "0" },
    });
  }, 300_000);

  afterAll(async () => {
    await runtime?.stop();
    rmSync(workspace, { recursive: true, force: true });
  });

  it("predicts behind staging, 404s prod until it moves, and counts predictions and deliveries in /metrics", async () => {
    const base = runtime.url!.replace(/\/$/, "");
    await seedServedModel(db, runtime.store, "m_local", 4);
    await pointAlias(db, "staging", "m_local");
    const product = makeDemoProduct({ seed: 5, width: 40, height: 36, name: "L1" });
    const post = (alias: string) => fetch(`${base}/v1/models/${alias}:predict`, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: product.zip });

    const ok = await post("staging");
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ modelId: "m_local", width: 40, height: 36 });
    expect((await post("prod")).status).toBe(404);
    await pointAlias(db, "prod", "m_local");
    expect((await post("prod")).status).toBe(200);

    await runtime.publish("reconcile.tick", { reason: "nudge" });
    for (let i = 0; i < 200 && !(await runtime.dispatcher.idle()); i++) await new Promise((r) => setTimeout(r, 50));

    const scrape = parsePrometheus(await (await fetch(`${base}/metrics`)).text());
    expect(sample(scrape, "mlops_predictions_total", { alias: "staging", model: "m_local", status: "200" })).toBe(1);
    expect(sample(scrape, "mlops_predictions_total", { alias: "prod", model: "none", status: "404" })).toBe(1);
    expect(sample(scrape, "mlops_predictions_total", { alias: "prod", model: "m_local", status: "200" })).toBe(1);
    expect(sample(scrape, "mlops_deliveries_total", { consumer: "reconcile", outcome: "delivered" })).toBe(1);
    expect(scrape.types.get("mlops_prediction_duration_seconds")).toBe("histogram");
    // Both predictions joined the drift window (recorded after the answer is sent).
    const predicted = async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM image_stats WHERE source = 'predict'`)).rows[0]!.n;
    for (let i = 0; i < 100 && (await predicted()) < 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await predicted()).toBe(2);
    // The dashboard itself still answers.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  }, 300_000);
});
