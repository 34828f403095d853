/**
 * The whole loop on emulated Google Cloud: the gcloud Pub/Sub emulator pushing to
 * functions-framework servers of our real functions (one `getTestServer` per function, push
 * endpoint `/projects/test-proj/topics/<t>` as in Terraform), a real Postgres (fresh schema, migrated
 * by the gcp composition root on "cold start"), the GCS fake behind the real GCS adapter, and the
 * Cloud Run fake in place of the Admin API. Deps come from `createGcpDeps` itself; only `jobs` is
 * swapped for the fake.
 *
 * An uploaded product flows: GCS finalize (Eventarc, simulated from the GCS fake) → ingest →
 * item.normalised → register → label dropped in the inbox → poll tick → annotations.accepted →
 * threshold → train launch → (the test plays the job) training.completed → on-training-completed
 * → evaluate launch → (the test plays the job) evaluation.completed → promote → staging.
 *
 * `npm run test:emulators`. Needs gcloud with the Pub/Sub emulator (skipped, saying so, where gcloud
 * is absent) and a Postgres: DATABASE_URL, or the local test server.
 */
import type { Server } from "node:http";
import { randomBytes } from "node:crypto";
import { PubSub } from "@google-cloud/pubsub";
import { getTestServer } from "@google-cloud/functions-framework/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeDemoProduct } from "../../shared/adapters/demo/products.ts";
import { createPgDb } from "../../shared/adapters/db/pg.ts";
import { CloudRunJobRunner } from "../../shared/adapters/gcp/cloud-run.ts";
import { PubSubPublisher } from "../../shared/adapters/gcp/pubsub.ts";
import { buildEnvelope } from "../../shared/messages/build.ts";
import { SUBSCRIPTIONS, TOPICS, topicFor, type ConsumerName, type MessageType } from "../../shared/messages/topics.ts";
import type { Db, Deps } from "../../shared/ports.ts";
import { createGcpDeps, overrideDeps } from "../../shared/runtime/gcp.ts";
import { FakeCloudRun } from "../fakes/cloud-run.ts";
import { startGcsFake, type GcsFake } from "../fakes/gcs-server.ts";
import { freePort } from "../helpers/ports.ts";
import { gcloudAvailable, startPubsubEmulator, type PubsubEmulator } from "../helpers/pubsub-emulator.ts";
import { evaluationReport, modelCard } from "../functions/seed.ts";

const PROJECT = "test-proj";
const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const hasGcloud = gcloudAvailable();
if (!hasGcloud) console.warn("pipeline.emulator.test: gcloud (and its Pub/Sub emulator) is not installed here; skipping");

let emulator: PubsubEmulator;
let gcs: GcsFake;
let admin: Db;
let schema: string;
let deps: Deps;
let cloudRun: FakeCloudRun;
let jobPublisher: PubSubPublisher;
let pubsub: PubSub;
const servers: Server[] = [];
const savedEnv = { ...process.env };

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function one<R>(sql: string, params: unknown[] = []): Promise<R | undefined> {
  return (await deps.db.query<R>(sql, params)).rows[0];
}

describe.skipIf(!hasGcloud)("pipeline on the Pub/Sub emulator", () => {
  beforeAll(async () => {
    emulator = await startPubsubEmulator(PROJECT);
    gcs = await startGcsFake();

    // A fresh schema on the real Postgres; the composition root migrates it, as on a cold start.
    schema = `e2e_${randomBytes(5).toString("hex")}`;
    admin = createPgDb({ connectionString: DATABASE_URL, max: 1 });
    await admin.exec(`CREATE SCHEMA ${schema}`);
    const url = new URL(DATABASE_URL);
    url.searchParams.set("options", `-c search_path=${schema}`);

    // The SDKs read their emulator endpoints from the environment, as they would in any dev shell.
    process.env.PUBSUB_EMULATOR_HOST = emulator.host;
    process.env.STORAGE_EMULATOR_HOST = gcs.endpoint;
    const env = {
      MLOPS_RUNTIME: "gcp",
      GOOGLE_CLOUD_PROJECT: PROJECT,
      REGION: "europe-west4",
      DATABASE_URL: url.toString(),
      BUCKET_ARCHIVE: "archive",
      BUCKET_ANNOTATION: "annotation",
      BUCKET_DATASETS: "datasets",
      BUCKET_MODELS: "models",
      THRESHOLD_N: "1",
      THRESHOLD_M: "1",
      REGISTER_BATCH_WINDOW_SECONDS: "0",
      LOG_LEVEL: "warn",
    };
    const real = await createGcpDeps(env, {
      normaliser: async () => (await import("../../shared/adapters/imaging/normaliser.ts")).createNormaliser(),
      codec: async () => (await import("../../shared/adapters/imaging/codec.ts")).sharpCodec,
    }, { service: "pipeline-test" });
    cloudRun = new FakeCloudRun();
    deps = { ...real, jobs: new CloudRunJobRunner({ project: PROJECT, region: "europe-west4", jobNames: { train: "train", evaluate: "evaluate", predict: "predict" }, api: cloudRun }) };
    overrideDeps(deps);

    // Topics, and a push subscription per consumer and topic, to one framework server per function.
    pubsub = new PubSub({ projectId: PROJECT, apiEndpoint: emulator.host });
    for (const topic of TOPICS) await pubsub.createTopic(topic);
    for (const [consumer, types] of Object.entries(SUBSCRIPTIONS) as [ConsumerName, readonly MessageType[]][]) {
      await import(`../../functions/${consumer}.ts`);
      const server = getTestServer(consumer);
      const port = await freePort();
      await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
      servers.push(server);
      for (const topic of new Set(types.map(topicFor))) {
        await pubsub.topic(topic).createSubscription(`${consumer}--${topic}`, {
          pushConfig: { pushEndpoint: `http://127.0.0.1:${port}/projects/${PROJECT}/topics/${topic}` },
          ackDeadlineSeconds: 60,
        });
      }
      // Eventarc stands in here: every finalized archive object becomes a binary CloudEvent to ingest.
      if (consumer === "ingest") {
        gcs.onFinalize = (object) => {
          if (object.bucket !== "archive") return;
          void fetch(`http://127.0.0.1:${port}/`, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "ce-id": `gcs-${object.generation}`,
              "ce-specversion": "1.0",
              "ce-type": "google.cloud.storage.object.v1.finalized",
              "ce-source": `//storage.googleapis.com/projects/_/buckets/${object.bucket}`,
              "ce-subject": `objects/${object.name}`,
              "ce-time": object.updated,
              "ce-bucket": object.bucket,
            },
            body: JSON.stringify(gcs.storageObjectData(object)),
          });
        };
      }
    }
    // What the jobs use to announce their results (shared/runtime/gcp-job.ts builds the same).
    jobPublisher = new PubSubPublisher({ projectId: PROJECT, batching: { maxMessages: 1, maxMilliseconds: 10 } });
  });

  afterAll(async () => {
    overrideDeps(null);
    for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
    await jobPublisher?.close().catch(() => undefined);
    await pubsub?.close().catch(() => undefined);
    await (deps?.publisher as PubSubPublisher | undefined)?.close?.().catch(() => undefined);
    await deps?.db.close().catch(() => undefined);
    if (admin) {
      await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
      await admin.close();
    }
    await gcs?.close();
    await emulator?.stop();
    process.env = savedEnv;
  });

  it("takes an uploaded product from GCS finalize to a model promoted to staging", async () => {
    // 1. Upload: GCS finalize → ingest normalises into the annotation bucket.
    const product = makeDemoProduct({ seed: 7, width: 48, height: 40, name: "S2_E2E_0001", cloudiness: 0.2 });
    const upload = gcs.putObject("archive", "incoming/S2_E2E_0001.zip", product.zip, "application/zip");
    const normalised = await until("the item to be normalised", () =>
      one<{ id: string; state: string; product_name: string; width: number; height: number }>(
        `SELECT id, state, product_name, width, height FROM items WHERE source_name = $1 AND state <> 'seen'`, [upload.name]));
    expect(normalised).toMatchObject({ product_name: "S2_E2E_0001", width: 48, height: 40 });
    expect(gcs.getObject("annotation", "items/S2_E2E_0001/S2_E2E_0001_rgb.png")).toBeDefined();
    expect(gcs.getObject("annotation", "items/S2_E2E_0001/S2_E2E_0001_nir.png")).toBeDefined();

    // 2. item.normalised → register (inbox backend: a task file per item).
    const itemId = normalised.id;
    await until("the item to be registered", () => one(`SELECT 1 AS ok FROM items WHERE id = $1 AND state = 'registered'`, [itemId]));
    expect(gcs.getObject("annotation", `tasks/${itemId}.json`)).toBeDefined();

    // 3. An annotator drops a COCO label (Clear as an RLE mask from the scene's ground truth).
    const { width, height, mask } = product.groundTruth;
    const coco = {
      images: [{ id: 1, file_name: "S2_E2E_0001_rgb.png", width, height }],
      annotations: [{ id: 1, image_id: 1, category_id: 1, iscrowd: 0, segmentation: { size: [height, width], counts: columnMajorRle(mask, width, height, 1) } }],
      categories: [{ id: 1, name: "Clear" }],
    };
    gcs.putObject("annotation", "inbox/S2_E2E_0001.json", JSON.stringify(coco), "application/json");

    // 4. Cloud Scheduler's poll tick: attributes only, as Terraform configures it.
    await pubsub.topic("poll-tick").publishMessage({ data: Buffer.from(JSON.stringify({ reason: "schedule" })), attributes: { type: "poll.tick" } });
    const annotation = await until("the label to be judged", () =>
      one<{ verdict: string; reasons: string[] }>(`SELECT verdict, reasons FROM annotations WHERE item_id = $1`, [itemId]));
    expect(annotation).toEqual({ verdict: "accepted", reasons: [] });

    // 5. annotations.accepted → threshold (N=1): a dataset version and a train launch.
    const run = await until("a training run to be launched", () =>
      one<{ id: string; state: string; execution_name: string; dataset_version_id: string; output_prefix: string }>(
        `SELECT id, state, execution_name, dataset_version_id, output_prefix FROM training_runs WHERE state = 'running'`));
    const trainLaunch = cloudRun.launches.find((l) => l.jobName === "train");
    expect(trainLaunch?.executionName).toBe(run.execution_name);
    expect(trainLaunch?.env.RUN_ID).toBe(run.id);
    const version = await one<{ manifest_uri: string; item_count: number }>(`SELECT manifest_uri, item_count FROM dataset_versions WHERE id = $1`, [run.dataset_version_id]);
    expect(version?.item_count).toBe(1);
    expect(trainLaunch?.env.DATASET_URI).toBe(version?.manifest_uri);
    expect(await one(`SELECT 1 AS ok FROM items WHERE id = $1 AND state = 'in_dataset'`, [itemId])).toBeDefined();

    // 6. The train job (played here) writes its outputs and publishes training.completed.
    cloudRun.start(run.execution_name);
    const prefix = run.output_prefix.replace("gs://models/", "");
    gcs.putObject("models", `${prefix}model.onnx`, "onnx-bytes", "application/octet-stream");
    gcs.putObject("models", `${prefix}model.json`, JSON.stringify(modelCard("baseline", run.dataset_version_id)), "application/json");
    await jobPublisher.publish(buildEnvelope("training.completed", {
      runId: run.id, outputPrefix: run.output_prefix, modelUri: `${run.output_prefix}model.onnx`, cardUri: `${run.output_prefix}model.json`, selfReported: null,
    }, { id: `msg_${randomBytes(6).toString("hex")}`, occurredAt: new Date(), correlationId: run.id }));
    cloudRun.succeed(run.execution_name);

    // 7. on-training-completed: the model is recorded and the evaluate job launched.
    const evaluation = await until("an evaluation to be launched", () =>
      one<{ id: string; candidate_model_id: string; execution_name: string }>(`SELECT id, candidate_model_id, execution_name FROM evaluations WHERE state = 'running'`));
    expect(await one(`SELECT 1 AS ok FROM training_runs WHERE id = $1 AND state = 'succeeded'`, [run.id])).toBeDefined();
    const evalLaunch = cloudRun.launches.find((l) => l.jobName === "evaluate");
    expect(evalLaunch?.executionName).toBe(evaluation.execution_name);
    expect(evalLaunch?.env.CANDIDATE_MODEL_URI).toBe(run.output_prefix);

    // 8. The evaluate job (played here) writes a passing report and publishes evaluation.completed.
    const reportPrefix = evalLaunch!.env.REPORT_PREFIX!;
    const report = evaluationReport(evaluation.id, evaluation.candidate_model_id, run.dataset_version_id, 0.81);
    gcs.putObject("models", `${reportPrefix.replace("gs://models/", "")}report.json`, JSON.stringify(report), "application/json");
    await jobPublisher.publish(buildEnvelope("evaluation.completed", {
      evaluationId: evaluation.id, candidateModelId: evaluation.candidate_model_id, championModelId: null,
      reportUri: `${reportPrefix}report.json`, summaryUri: `${reportPrefix}summary.html`,
    }, { id: `msg_${randomBytes(6).toString("hex")}`, occurredAt: new Date(), correlationId: run.id }));

    // 9. promote: staging moves to the candidate (prod waits for approval under the default policy).
    const move = await until("staging to move", () =>
      one<{ alias: string; model_id: string; actor: string }>(`SELECT alias, model_id, actor FROM alias_moves WHERE alias = 'staging'`));
    expect(move).toEqual({ alias: "staging", model_id: evaluation.candidate_model_id, actor: "policy" });
    const review = await one<{ outcome: string }>(`SELECT outcome FROM promotion_decisions WHERE alias = 'prod'`);
    expect(review?.outcome).toBe("review");
    expect(await one(`SELECT 1 AS ok FROM evaluations WHERE id = $1 AND state = 'succeeded'`, [evaluation.id])).toBeDefined();
    // Nothing along the way was given up on.
    expect((await deps.db.query(`SELECT consumer, reason FROM dead_letters`)).rows).toEqual([]);
  });
});

/** COCO's uncompressed RLE: column-major runs, starting with a run of zeros. */
function columnMajorRle(mask: Uint8Array, width: number, height: number, classId: number): number[] {
  const counts: number[] = [];
  let current = 0;
  let run = 0;
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      const v = mask[y * width + x] === classId ? 1 : 0;
      if (v !== current) {
        counts.push(run);
        run = 0;
        current = v;
      }
      run++;
    }
  }
  counts.push(run);
  return counts;
}
