import { createServer, type Server } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeDemoProduct } from "../../../shared/adapters/demo/products.ts";
import { sharpCodec } from "../../../shared/adapters/imaging/codec.ts";
import { createNormaliser } from "../../../shared/adapters/imaging/normaliser.ts";
import { LocalObjectStore } from "../../../shared/adapters/store/local.ts";
import { loadConfig } from "../../../shared/config/load.ts";
import { createDashboardHandler } from "../../../shared/dashboard/http.ts";
import { recordDeadLetter } from "../../../shared/db/queries/dead-letters.ts";
import { insertDriftCheck } from "../../../shared/db/queries/drift.ts";
import { createServingStack, type ServingStack } from "../../../shared/serving/create.ts";
import type { Db, Logger } from "../../../shared/ports.ts";
import { createTestDb } from "../../helpers/db.ts";
import { pointAlias, seedServedModel } from "../../helpers/serving.ts";
import { parsePrometheus, sample } from "../../helpers/prometheus.ts";

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

let db: Db;
let dir: string;
let store: LocalObjectStore;
let server: Server;
let base: string;
let stack: ServingStack;

beforeAll(async () => {
  db = await createTestDb();
  dir = await mkdtemp(join(tmpdir(), "serve-http-"));
  store = new LocalObjectStore(dir);
  await seedServedModel(db, store, "m_http", 5);
  await pointAlias(db, "staging", "m_http");
  const config = loadConfig({ PREDICT_MAX_BYTES: String(256 * 1024) });
  stack = await createServingStack({ config, db, store, log: quiet, normaliser: async () => createNormaliser(), codec: async () => sharpCodec });
  const handler = createDashboardHandler({ getSnapshot: () => Promise.reject(new Error("unused")), routes: stack.routes, logger: quiet });
  server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await stack.predictor.close();
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

const post = (path: string, body: Uint8Array | string, type = "application/octet-stream") =>
  fetch(`${base}${path}`, { method: "POST", headers: { "content-type": type }, body });

describe("serving routes on the dashboard server", () => {
  it("answers raw product bytes; prod is 404 until it is moved, then 200; /metrics counts both", async () => {
    const product = makeDemoProduct({ seed: 11, width: 48, height: 40, name: "S1" });
    const ok = await post("/v1/models/staging:predict", product.zip);
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ modelId: "m_http", alias: "staging", width: 48, height: 40 });
    expect(typeof body.maskPng).toBe("string");

    const missing = await post("/v1/models/prod:predict", product.zip);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: "unknown_alias" } });
    await pointAlias(db, "prod", "m_http");
    expect((await post("/v1/models/prod:predict", product.zip)).status).toBe(200);

    const metrics = parsePrometheus(await (await fetch(`${base}/metrics`)).text());
    expect(sample(metrics, "mlops_predictions_total", { alias: "staging", model: "m_http", status: "200" })).toBe(1);
    expect(sample(metrics, "mlops_predictions_total", { alias: "prod", model: "none", status: "404" })).toBe(1);
    expect(sample(metrics, "mlops_predictions_total", { alias: "prod", model: "m_http", status: "200" })).toBe(1);
    expect(sample(metrics, "mlops_prediction_duration_seconds_count", { alias: "staging" })).toBe(1);
  });

  it("reads from and writes to the store with a JSON body", async () => {
    const product = makeDemoProduct({ seed: 12, width: 32, height: 30, name: "S2" });
    await store.put("gs://archive/in/S2.zip", product.zip);
    const res = await post("/v1/models/staging:predict", JSON.stringify({ uri: "gs://archive/in/S2.zip", outputUri: "gs://archive/out/S2_mask.png" }), "application/json");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { maskUri: string; maskPng: string };
    expect(body.maskUri).toBe("gs://archive/out/S2_mask.png");
    expect(Buffer.from(await store.get(body.maskUri)).toString("base64")).toBe(body.maskPng);
    expect((await post("/v1/models/staging:predict", JSON.stringify({ uri: "s3://x" }), "application/json")).status).toBe(400);
  });

  it("400 with the normaliser's reason, 413 over the limit, 405 for GET", async () => {
    const bad = await post("/v1/models/staging:predict", "this is not an image");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/unrecognised content/);
    const big = await post("/v1/models/staging:predict", new Uint8Array(300 * 1024));
    expect(big.status).toBe(413);
    expect((await fetch(`${base}/v1/models/staging:predict`)).status).toBe(405);
  });

  it("/metrics reports items by state, oldest age, dead letters and job runs from the database", async () => {
    await db.query(
      `INSERT INTO items (id, source_bucket, source_name, source_generation, state, state_changed_at) VALUES
       ('it_m1', 'archive', 'a.zip', '1', 'seen', now() - interval '90 seconds'), ('it_m2', 'archive', 'b.zip', '1', 'seen', now())`,
    );
    await recordDeadLetter(db, { consumer: "register", messageId: "msg-1", reason: "test", payload: {} });
    const metrics = parsePrometheus(await (await fetch(`${base}/metrics`)).text());
    expect(sample(metrics, "mlops_items", { state: "seen" })).toBe(2);
    expect(sample(metrics, "mlops_items", { state: "failed" })).toBe(0);
    expect(sample(metrics, "mlops_item_oldest_age_seconds", { state: "seen" })).toBeGreaterThanOrEqual(89);
    expect(sample(metrics, "mlops_item_oldest_age_seconds", { state: "failed" })).toBeUndefined();
    expect(sample(metrics, "mlops_dead_letters", { consumer: "register" })).toBe(1);
    expect(sample(metrics, "mlops_drift_drifted")).toBe(0);
  });

  it("/metrics shows the latest drift check's scores", async () => {
    await insertDriftCheck(db, {
      alias: "staging", modelId: "m_http", referenceDatasetVersion: "v1", referenceImages: 20, windowImages: 15, drifted: true, skippedReason: null,
      features: [{ name: "red.std", psi: 2.5, ks: 0.9, ksPValue: 1e-9, drifted: true }, { name: "nir.mean", psi: 0.02, ks: 0.1, ksPValue: 0.8, drifted: false }],
    });
    const metrics = parsePrometheus(await (await fetch(`${base}/metrics`)).text());
    expect(sample(metrics, "mlops_drift_drifted")).toBe(1);
    expect(sample(metrics, "mlops_drift_psi", { feature: "red.std" })).toBe(2.5);
    expect(sample(metrics, "mlops_drift_ks_statistic", { feature: "nir.mean" })).toBe(0.1);
    expect(sample(metrics, "mlops_drift_feature_drifted", { feature: "nir.mean" })).toBe(0);
  });
});
