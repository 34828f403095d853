import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runPredictionJob } from "../../functions/jobs/predict.ts";
import { makeDemoProduct } from "../../shared/adapters/demo/products.ts";
import { sharpCodec } from "../../shared/adapters/imaging/codec.ts";
import { runConsumer } from "../../shared/core/consumers.ts";
import { reconcilePrediction } from "../../shared/core/usecases/predictions.ts";
import { PermanentError } from "../../shared/errors.ts";
import { buildEnvelope, parseEnvelope } from "../../shared/messages/build.ts";
import type { Envelope } from "../../shared/messages/envelope.ts";
import { JOB_EXIT } from "../../shared/messages/jobs.ts";
import { PredictionDriftSchema, PredictionSummarySchema, driftSampleIndices, parsePredictJobEnv } from "../../shared/messages/predict-job.ts";
import { windowFeatures } from "../../shared/db/queries/drift.ts";
import { readLoopGauges } from "../../shared/db/queries/metrics.ts";
import { getPredictionRun } from "../../shared/db/queries/predictions.ts";
import { readStatusSnapshot } from "../../shared/db/queries/status.ts";
import { createTestDeps, MemoryPublisher, type TestDeps } from "../helpers/deps.ts";
import { pointAlias, seedServedModel, SERVE_CLASSES } from "../helpers/serving.ts";

/**
 * Batch prediction end to end on the local ports (PGlite, or Postgres with DATABASE_URL): the
 * `predict` command records a run and launches the job, the job (run in-process on the same
 * store) predicts a prefix holding good and bad inputs, and its completion message settles the run.
 */
let t: TestDeps;

beforeEach(async () => {
  t = await createTestDeps();
  await seedServedModel(t.db, t.store, "m_batch", 7);
  await pointAlias(t.db, "staging", "m_batch");
  // Good: two product zips of different sizes. Bad: an RGB PNG (the model needs NIR), an empty
  // zip and a text file.
  await t.store.put("gs://archive/batch/scene_a.zip", makeDemoProduct({ seed: 1, width: 40, height: 36, name: "scene_a" }).zip);
  await t.store.put("gs://archive/batch/2026/scene_b.zip", makeDemoProduct({ seed: 2, width: 24, height: 30, name: "scene_b" }).zip);
  const rgb = new Uint8Array(20 * 16 * 3).map((_, i) => (i * 37) % 256);
  await t.store.put("gs://archive/batch/photo.png", await sharpCodec.encodePng({ width: 20, height: 16, channels: 3, data: rgb }));
  await t.store.put("gs://archive/batch/empty.zip", new Uint8Array(0));
  await t.store.put("gs://archive/batch/notes.txt", "not an image");
  // Outside the prefix: never predicted.
  await t.store.put("gs://archive/other/scene_c.zip", makeDemoProduct({ seed: 3, width: 16, height: 16, name: "scene_c" }).zip);
}, 300_000);

afterEach(async () => {
  await t.close();
});

const command = (data: Record<string, unknown>, id = `cmd_${Math.random().toString(36).slice(2)}`) =>
  buildEnvelope("command", { actor: "tester", ...data } as never, { id, occurredAt: new Date() }) as Envelope;

/** Delivers a message to the `command` consumer the way the runtimes do: parsed from its JSON. */
const deliver = (message: Envelope) => runConsumer("command", parseEnvelope(JSON.parse(JSON.stringify(message))), t.deps);

async function runJob(env: Record<string, string>, publisher = new MemoryPublisher()) {
  const code = await runPredictionJob(env, {
    store: t.store, publisher, codec: t.deps.codec, clock: t.deps.clock, log: t.log, config: t.deps.config,
  });
  return { code, publisher };
}

describe("batch prediction (predict command → predict job → run recorded)", () => {
  it("predicts every object under the prefix, records bad inputs with their reason, and settles the run once", async () => {
    const outcome = await deliver(command({ name: "predict", alias: "staging", prefix: "batch/" }));
    expect(outcome.status).toBe("done");
    expect(t.jobs.launches).toHaveLength(1);
    const launch = t.jobs.launches[0]!;
    expect(launch.job).toBe("predict");
    const env = parsePredictJobEnv(launch.env);
    expect(env).toMatchObject({ ALIAS: "staging", MODEL_ID: "m_batch", MODEL_URI: "gs://models/m_batch", SOURCE_PREFIX: "gs://archive/batch/" });
    expect(env.OUTPUT_PREFIX).toBe(`gs://models/predictions/staging/${env.PREDICTION_RUN_ID}/`);
    expect((await getPredictionRun(t.db, env.PREDICTION_RUN_ID))).toMatchObject({ state: "running", model_id: "m_batch", execution_name: launch.executionName });

    const { code, publisher } = await runJob(launch.env);
    expect(code).toBe(JOB_EXIT.ok);

    // One mask per good input, at the input's size, class ids only (or 255 for nodata).
    const masks: [string, number, number][] = [["scene_a.png", 40, 36], ["2026/scene_b.png", 24, 30]];
    for (const [name, width, height] of masks) {
      const png = await sharpCodec.decodePng(await t.store.get(`${env.OUTPUT_PREFIX}${name}`));
      expect({ name, width: png.width, height: png.height, channels: png.channels }).toEqual({ name, width, height, channels: 1 });
      expect(png.data.every((v) => v < SERVE_CLASSES.length || v === 255)).toBe(true);
    }
    const summaryBytes = await t.store.get(`${env.OUTPUT_PREFIX}summary.json`);
    const summary = PredictionSummarySchema.parse(JSON.parse(summaryBytes.toString("utf8")));
    expect(await t.store.head(`${env.OUTPUT_PREFIX}photo.png`)).toBeNull();
    expect(summary).toMatchObject({ runId: env.PREDICTION_RUN_ID, alias: "staging", modelId: "m_batch", counts: { total: 5, ok: 2, failed: 3 } });
    expect(summary.predictions.map((p) => p.input)).toEqual(["gs://archive/batch/2026/scene_b.zip", "gs://archive/batch/scene_a.zip"]);
    expect(summary.failures.map((f) => [f.input, f.code])).toEqual([
      ["gs://archive/batch/empty.zip", "empty_object"],
      ["gs://archive/batch/notes.txt", "unsupported_format"],
      ["gs://archive/batch/photo.png", "missing_band"],
    ]);
    expect(summary.failures[2]!.reason).toMatch(/needs band "nir"/);
    expect(Object.keys(summary.classFractions).sort()).toEqual([...SERVE_CLASSES].sort());
    expect(Object.values(summary.classFractions).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);

    const completed = publisher.ofType("prediction.completed");
    expect(completed).toHaveLength(1);
    expect(completed[0]!.data).toEqual({ runId: env.PREDICTION_RUN_ID, summaryUri: `${env.OUTPUT_PREFIX}summary.json`, ok: 2, failed: 3 });

    // drift.json: the features of every predicted input (fewer than the sample size), as ingest records them.
    const drift = PredictionDriftSchema.parse(JSON.parse((await t.store.get(`${env.OUTPUT_PREFIX}drift.json`)).toString("utf8")));
    expect(drift).toMatchObject({ runId: env.PREDICTION_RUN_ID, alias: "staging", modelId: "m_batch", predicted: 2 });
    expect(drift.images.map((i) => i.input)).toEqual(summary.predictions.map((p) => p.input));
    expect(drift.images.map((i) => i.classFractions)).toEqual(summary.predictions.map((p) => p.classFractions));
    for (const image of drift.images) expect(Object.keys(image.features)).toEqual(expect.arrayContaining(["red.mean", "nir.p50", "nodata_fraction"]));

    // The completion settles the run once and adds the sample to the drift window; a redelivery is a duplicate.
    expect((await deliver(completed[0]!)).status).toBe("done");
    expect((await deliver(completed[0]!)).status).toBe("duplicate");
    const stats = await t.db.query<{ source: string; model_id: string; alias: string; features: Record<string, number>; class_fractions: Record<string, number> }>(
      `SELECT source, model_id, alias, features, class_fractions FROM image_stats ORDER BY id`);
    expect(stats.rows).toHaveLength(2);
    expect(stats.rows.map((r) => [r.source, r.model_id, r.alias])).toEqual([["predict", "m_batch", "staging"], ["predict", "m_batch", "staging"]]);
    const byRed = (a: Record<string, number>, b: Record<string, number>) => (a["red.mean"] ?? 0) - (b["red.mean"] ?? 0);
    expect(stats.rows.map((r) => r.features).sort(byRed)).toEqual(drift.images.map((i) => i.features).sort(byRed));
    expect(await windowFeatures(t.db, "no-such-version", 30)).toHaveLength(2);
    expect(await getPredictionRun(t.db, env.PREDICTION_RUN_ID)).toMatchObject({ state: "succeeded", ok_count: 2, failed_count: 3 });
    expect(t.notifier.sent.filter((n) => n.threadKey === `pred:${env.PREDICTION_RUN_ID}`)).toHaveLength(1);

    // Job runs by state (/metrics) and `mlops status` include it.
    expect((await readLoopGauges(t.db)).jobRuns).toContainEqual({ job: "predict", state: "succeeded", count: 1 });
    const status = await readStatusSnapshot(t.db);
    expect(status.predictionRuns?.[0]).toMatchObject({ id: env.PREDICTION_RUN_ID, state: "succeeded", ok: 2, failed: 3, alias: "staging", modelId: "m_batch" });

    // A rerun of the execution changes nothing: same summary bytes, same message id.
    const again = await runJob(launch.env);
    expect(again.code).toBe(JOB_EXIT.ok);
    expect((await t.store.get(`${env.OUTPUT_PREFIX}summary.json`)).equals(summaryBytes)).toBe(true);
    expect(again.publisher.ofType("prediction.completed").map((m) => m.id)).toEqual([completed[0]!.id]);
  }, 300_000);

  it("launches once per command message, and recovers a completion whose message was lost from summary.json", async () => {
    const message = command({ name: "predict", alias: "staging", prefix: "gs://archive/batch/2026/" }, "cmd_once");
    await deliver(message);
    expect((await deliver(message)).status).toBe("duplicate");
    expect(t.jobs.launches).toHaveLength(1);
    const launch = t.jobs.launches[0]!;
    const runId = launch.env.PREDICTION_RUN_ID!;
    expect(launch.env.SOURCE_PREFIX).toBe("gs://archive/batch/2026/");

    expect((await runJob(launch.env)).code).toBe(JOB_EXIT.ok); // its message is lost: never delivered
    t.jobs.finish(launch.executionName, "succeeded");
    const run = (await getPredictionRun(t.db, runId))!;
    expect(await reconcilePrediction(run, t.deps, null)).toMatch(/recovered from summary\.json/);
    const recovered = t.publisher.ofType("prediction.completed");
    expect(recovered.map((m) => m.id)).toEqual([`prediction.completed:${runId}`]);
    await deliver(recovered[0]!);
    expect(await getPredictionRun(t.db, runId)).toMatchObject({ state: "succeeded", ok_count: 1, failed_count: 0 });
  }, 300_000);

  it("settles a run whose drift.json is unreadable, leaving the drift window alone and saying why", async () => {
    await deliver(command({ name: "predict", alias: "staging", prefix: "batch/2026/" }));
    const launch = t.jobs.launches[0]!;
    const { publisher } = await runJob(launch.env);
    await t.store.put(`${launch.env.OUTPUT_PREFIX}drift.json`, "{ not json");
    expect((await deliver(publisher.ofType("prediction.completed")[0]!)).status).toBe("done");
    expect(await getPredictionRun(t.db, launch.env.PREDICTION_RUN_ID!)).toMatchObject({ state: "succeeded", ok_count: 1 });
    expect((await t.db.query(`SELECT 1 FROM image_stats`)).rows).toHaveLength(0);
    expect(t.log.entries.some((l) => l.message === "batch prediction's drift sample not used" && /JSON/.test(String(l.fields.reason)))).toBe(true);
  }, 300_000);

  it("samples the drift features of at most PREDICTION_DRIFT_SAMPLE inputs, evenly spaced", () => {
    expect([...driftSampleIndices(3, 5)]).toEqual([0, 1, 2]);
    expect([...driftSampleIndices(10, 4)]).toEqual([0, 2, 5, 7]);
    const big = [...driftSampleIndices(1_000_003)];
    expect(big).toHaveLength(1000);
    expect(big[0]).toBe(0);
    expect(big.at(-1)).toBeGreaterThan(998_000);
    // Spacing never differs by more than one input.
    const gaps = new Set(big.slice(1).map((v, k) => v - big[k]!));
    expect(Math.max(...gaps) - Math.min(...gaps)).toBeLessThanOrEqual(1);
  });

  it("refuses an alias nobody holds, and fails the run when the model file is missing", async () => {
    await expect(deliver(command({ name: "predict", alias: "prod", prefix: "batch/" }))).rejects.toThrow(PermanentError);
    expect(t.jobs.launches).toHaveLength(0);

    await deliver(command({ name: "predict", alias: "staging", prefix: "batch/" }));
    const launch = t.jobs.launches[0]!;
    await t.store.delete("gs://models/m_batch/model.onnx");
    const { code, publisher } = await runJob(launch.env);
    expect(code).toBe(JOB_EXIT.ok);
    const failed = publisher.ofType("prediction.failed");
    expect(failed).toHaveLength(1);
    expect((failed[0]!.data as { reason: string }).reason).toMatch(/model\.onnx/);
    await deliver(failed[0]!);
    expect(await getPredictionRun(t.db, launch.env.PREDICTION_RUN_ID!)).toMatchObject({ state: "failed" });
    expect((await readLoopGauges(t.db)).jobRuns).toContainEqual({ job: "predict", state: "failed", count: 1 });
  }, 300_000);
});
