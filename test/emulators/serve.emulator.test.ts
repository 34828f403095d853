/**
 * The `serve` service as Cloud Run runs it: `npm run build`'s bundle (dist/services/serve) started
 * with `node`, configured only through environment variables, reading models from the GCS fake
 * through the bundled storage client and aliases from a real Postgres schema. An alias moves twice
 * while 8 clients keep predicting: no request fails, and every request sent after a move is
 * answered by the model it moved to.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeDemoProduct } from "../../shared/adapters/demo/products.ts";
import { createPgDb } from "../../shared/adapters/db/pg.ts";
import { buildBaselineCard, buildBaselineOnnx } from "../../functions/jobs/trainers/baseline-model.ts";
import { initWeights } from "../../shared/core/training/mlp.ts";
import { SeededRng } from "../../shared/core/training/rng.ts";
import { migrate } from "../../shared/db/migrate.ts";
import { loadMigrations } from "../../shared/db/migrations.ts";
import { insertModel, moveAlias } from "../../shared/db/queries/models.ts";
import type { Db } from "../../shared/ports.ts";
import { buildAll } from "../../scripts/build.ts";
import { startGcsFake, type GcsFake } from "../fakes/gcs-server.ts";
import { freePort } from "../helpers/ports.ts";
import { parsePrometheus, sample } from "../helpers/prometheus.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

let gcs: GcsFake;
let admin: Db;
let db: Db;
let schema: string;
let service: ChildProcess;
let base: string;
let output = "";
let moves = 0;

async function seedModel(id: string, seed: number): Promise<void> {
  const shape = { inputs: 4, hidden: 8, classes: 3 };
  const card = buildBaselineCard({
    classes: ["Fill", "Clear", "Cloud"], channels: ["red", "green", "blue", "nir"], normalisation: { mean: [0.3, 0.3, 0.3, 0.3], std: [0.2, 0.2, 0.2, 0.2] },
    params: {}, versionId: "v", line: "main", createdAt: "2026-01-01T00:00:00Z",
  });
  gcs.putObject("models", `${id}/model.onnx`, Buffer.from(buildBaselineOnnx(shape, initWeights(shape, new SeededRng(seed)))), "application/octet-stream");
  await insertModel(db, { id, trainingRunId: null, name: card.name, task: card.task, uri: `gs://models/${id}`, card, datasetVersionId: null });
}

const point = (modelId: string) => moveAlias(db, { alias: "prod", modelId, decisionId: null, actor: "test", reason: "test", causeId: `move-${++moves}` });

describe("the serve bundle on Cloud Run's contract", () => {
  beforeAll(async () => {
    await buildAll({ only: ["serve"], log: () => undefined });
    gcs = await startGcsFake();
    schema = `serve_${randomBytes(5).toString("hex")}`;
    admin = createPgDb({ connectionString: DATABASE_URL, max: 1 });
    await admin.exec(`CREATE SCHEMA ${schema}`);
    db = createPgDb({ connectionString: DATABASE_URL, schema, max: 2 });
    // serve never migrates (the functions own the schema).
    await migrate(db, loadMigrations());
    await seedModel("m_a", 1);
    await seedModel("m_b", 2);
    const url = new URL(DATABASE_URL);
    url.searchParams.set("options", `-c search_path=${schema}`);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    service = spawn(process.execPath, [join(ROOT, "dist/services/serve/index.js")], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "", NODE_ENV: "production", PORT: String(port), K_SERVICE: "serve",
        MLOPS_RUNTIME: "gcp", GOOGLE_CLOUD_PROJECT: "test-proj", REGION: "europe-west4",
        DATABASE_URL: url.toString(), BUCKET_MODELS: "models", STORAGE_EMULATOR_HOST: gcs.endpoint,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    service.stdout?.on("data", (c: Buffer) => (output += c.toString()));
    service.stderr?.on("data", (c: Buffer) => (output += c.toString()));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (service.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not start:\n${output}`);
      if (await fetch(`${base}/healthz`).then((r) => r.ok, () => false)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  afterAll(async () => {
    service?.kill("SIGTERM");
    await db?.close();
    await gcs?.close();
    if (admin) {
      await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
      await admin.close();
    }
  });

  it("404s an alias nobody holds, then swaps models under load without failing a request", async () => {
    const product = makeDemoProduct({ seed: 8, width: 64, height: 64, name: "E1" }).zip;
    const predict = async () => {
      const res = await fetch(`${base}/v1/models/prod:predict`, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: product });
      return { status: res.status, body: (await res.json()) as { modelId?: string; width?: number } };
    };
    const missing = await predict();
    expect(missing.status, output).toBe(404);

    await point("m_a");
    const first = await predict();
    expect(first, output).toMatchObject({ status: 200, body: { modelId: "m_a", width: 64 } });

    const results: { status: number; modelId: string | undefined; afterMove: number }[] = [];
    let sent = 0;
    let movedAt = 0;
    const clients = Array.from({ length: 8 }, async () => {
      while (sent < 48) {
        sent++;
        const afterMove = movedAt;
        const r = await predict();
        results.push({ status: r.status, modelId: r.body.modelId, afterMove });
      }
    });
    const mover = (async () => {
      for (const target of ["m_b", "m_a"]) {
        while (sent < (movedAt + 1) * 16) await new Promise((r) => setTimeout(r, 5));
        await point(target);
        movedAt++;
      }
    })();
    await Promise.all([...clients, mover]);

    expect(results.filter((r) => r.status !== 200), output).toEqual([]);
    // A request sent after the second move (back to m_a) is answered by m_a.
    for (const r of results.filter((x) => x.afterMove === 2)) expect(r.modelId).toBe("m_a");
    expect(new Set(results.map((r) => r.modelId))).toEqual(new Set(["m_a", "m_b"]));

    const scrape = parsePrometheus(await (await fetch(`${base}/metrics`)).text());
    expect(sample(scrape, "mlops_predictions_total", { alias: "prod", model: "none", status: "404" })).toBe(1);
    const ok = scrape.samples.filter((s) => s.name === "mlops_predictions_total" && s.labels.status === "200").reduce((n, s) => n + s.value, 0);
    expect(ok).toBe(49);
  });
});
