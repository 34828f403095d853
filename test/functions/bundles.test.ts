/**
 * Every built function bundle (`npm run build` → dist/functions/<name>/), started by the functions
 * framework's CLI in its own process with exactly the environment and secrets Terraform declares
 * for it (./bundle-env.ts: infra/deployables.json + infra/main.tf), on both annotation backends,
 * handles one real delivery. Only the transports point at test doubles, the way the SDKs and our
 * config allow: DATABASE_URL (a migrated test database), STORAGE_EMULATOR_HOST (the GCS fake),
 * PUBSUB_EMULATOR_HOST (a Pub/Sub fake that plays the function's identity: it refuses topics
 * Terraform does not grant it) and, for Encord, ENCORD_DOMAIN through loop_settings (the fake,
 * which verifies every request's signature with the key from the ENCORD_SSH_KEY secret).
 *
 * This is what broke a real deployment while the in-process tests passed: a function whose config
 * demanded a secret Terraform never gave it failed every cold start; a function published to a
 * topic it had no publisher role on.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sharpCodec } from "../../shared/adapters/imaging/codec.ts";
import { enqueueOutbox } from "../../shared/db/queries/messaging.ts";
import { BACKENDS, FUNCTION_NAMES, type Backend, type FunctionName } from "../../shared/deployables.ts";
import { buildEnvelope } from "../../shared/messages/build.ts";
import type { Envelope } from "../../shared/messages/envelope.ts";
import { topicFor } from "../../shared/messages/topics.ts";
import { buildAll } from "../../scripts/build.ts";
import { generateTestKey } from "../fakes/encord-keys.ts";
import { startFakeEncord, type FakeEncord } from "../fakes/encord-server.ts";
import { startFakeLabelStudio, type FakeLabelStudio } from "../fakes/labelstudio-server.ts";
import { startGcsFake, type GcsFake } from "../fakes/gcs-server.ts";
import { startPubsubFake, type PubsubFake } from "../fakes/pubsub-server.ts";
import { createUrlTestDb, type UrlTestDb } from "../helpers/db.ts";
import { freePort, isAddressInUse } from "../helpers/ports.ts";
import { checkAgainstMainTf, manifest, terraformEnv, type TerraformInputs } from "./bundle-env.ts";
import { gcsFinalized, postCloudEvent, postPush } from "./harness.ts";
import { evaluationReport, modelCard, seedItem, seedTraining } from "./seed.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const PROJECT = "test-proj";
const REGION = "europe-west4";
/** Terraform's names: mlops-<kind>-<project>-<env>. */
const BUCKET = { archive: `mlops-archive-${PROJECT}-test`, annotation: `mlops-annotation-${PROJECT}-test`, datasets: `mlops-datasets-${PROJECT}-test`, models: `mlops-models-${PROJECT}-test` };
const DB_PASSWORD = "db-password-from-secret-manager";
const WEBHOOK_SECRET = "webhook-secret-from-secret-manager";

// Built once for both backends (esbuild, every function), into a folder of this process's own:
// another test process beside this one builds too, and must not rewrite a bundle this one starts.
const OUT_ROOT = join(ROOT, "dist", `.test-${process.pid}`);
let built: Promise<unknown> | null = null;
const buildOnce = () => (built ??= buildAll({ only: [...FUNCTION_NAMES], log: () => undefined, outRoot: OUT_ROOT }));
afterAll(() => rm(OUT_ROOT, { recursive: true, force: true }));

interface RunningFunction {
  name: FunctionName;
  url: string;
  pubsub: PubsubFake;
  output: () => string;
  child: ChildProcess;
}

async function startBundle(name: FunctionName, env: Record<string, string>, pubsub: PubsubFake): Promise<RunningFunction> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnBundle(name, env, pubsub, await freePort());
    } catch (e) {
      // Another test process took the port between the draw and the child's bind: draw again.
      if (attempt >= 3 || !isAddressInUse(String(e))) throw e;
    }
  }
}

async function spawnBundle(name: FunctionName, env: Record<string, string>, pubsub: PubsubFake, port: number): Promise<RunningFunction> {
  let output = "";
  const child = spawn(
    process.execPath,
    [join(ROOT, "node_modules/@google-cloud/functions-framework/build/src/main.js"), `--source=${join(OUT_ROOT, "functions", name)}`, `--target=${name}`, `--port=${port}`],
    { cwd: ROOT, env: { PATH: process.env.PATH ?? "", NODE_ENV: "production", ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout?.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (output += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  // In production mode the framework prints no banner: wait until the port answers.
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${name} did not start:\n${output}`);
    }
    if (await fetch(`${url}/robots.txt`).then(() => true, () => false)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return { name, url, pubsub, output: () => output, child };
}

/** The envelopes a function published, per topic, from its Pub/Sub fake. */
function publishedBy(fn: RunningFunction): { topic: string; envelope: Envelope }[] {
  return fn.pubsub.published.map((m) => ({ topic: m.topic, envelope: JSON.parse(m.data.toString("utf8")) as Envelope }));
}

/** Log lines (JSON) a function wrote for its deliveries. */
function handled(fn: RunningFunction): { status?: string; consumer?: string }[] {
  return fn
    .output()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { message?: string; status?: string; consumer?: string })
    .filter((l) => l.message === "delivery handled");
}

async function pushEnvelope(fn: RunningFunction, envelope: Envelope, messageId: string): Promise<Response> {
  return postPush(fn.url, topicFor(envelope.type as never), { messageId, data: envelope, attributes: { type: envelope.type } });
}

const waitFor = async (what: string, ready: () => boolean | Promise<boolean>, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe.each(BACKENDS)("the built function bundles on Terraform's environment, %s backend", (backend: Backend) => {
  let db: UrlTestDb;
  let gcs: GcsFake;
  let encord: FakeEncord | null = null;
  let encordKey: ReturnType<typeof generateTestKey> | null = null;
  let labelStudio: FakeLabelStudio | null = null;
  let inputs: TerraformInputs;
  const fns = {} as Record<FunctionName, RunningFunction>;

  beforeAll(async () => {
    await buildOnce();
    [db, gcs] = await Promise.all([createUrlTestDb(), startGcsFake()]);
    if (backend === "encord") {
      encordKey = generateTestKey();
      encord = await startFakeEncord({ publicKeyHex: encordKey.publicKeyHex });
    }
    if (backend === "labelstudio") labelStudio = await startFakeLabelStudio();
    const fakeEncordEnv = encord?.env({ ENCORD_SSH_KEY: encordKey!.openssh }) ?? {};
    inputs = {
      backend,
      platform: {
        MLOPS_RUNTIME: "gcp",
        GOOGLE_CLOUD_PROJECT: PROJECT,
        REGION,
        CLOUD_SQL_INSTANCE: `${PROJECT}:${REGION}:mlops-test`,
        DB_USER: "mlops",
        DB_NAME: "mlops",
        DB_POOL_MAX: "2",
        BUCKET_ARCHIVE: BUCKET.archive,
        BUCKET_ANNOTATION: BUCKET.annotation,
        BUCKET_DATASETS: BUCKET.datasets,
        BUCKET_MODELS: BUCKET.models,
        TRAIN_JOB: "train",
        EVALUATE_JOB: "evaluate",
        PREDICT_JOB: "predict",
        ANNOTATION_BACKEND: backend,
        LOG_LEVEL: "info",
        ...(encord
          ? { ENCORD_INTEGRATION: fakeEncordEnv.ENCORD_INTEGRATION!, ENCORD_DATASET_HASH: fakeEncordEnv.ENCORD_DATASET_HASH!, ENCORD_PROJECT_HASH: fakeEncordEnv.ENCORD_PROJECT_HASH!, ENCORD_FOLDER: "mlops-loop" }
          : {}),
        ...(labelStudio ? { LABEL_STUDIO_URL: labelStudio.url, LABEL_STUDIO_PROJECT: "mlops-loop" } : {}),
      },
      // envs/dev.tfvars' loop_settings, plus where Encord lives (the fake).
      loopSettings: { THRESHOLD_N: "100", THRESHOLD_M: "20", THRESHOLD_T_HOURS: "24", TASK: "segmentation", ...(encord ? { ENCORD_DOMAIN: encord.url } : {}) },
      secrets: {
        DB_PASSWORD,
        ...(encordKey ? { ENCORD_SSH_KEY: encordKey.openssh } : {}),
        ...(labelStudio ? { LABEL_STUDIO_API_KEY: labelStudio.apiKey, LABEL_STUDIO_WEBHOOK_SECRET: WEBHOOK_SECRET } : {}),
      },
    };
    checkAgainstMainTf(inputs);

    await Promise.all(
      FUNCTION_NAMES.map(async (name) => {
        const { env, secrets } = terraformEnv(name, inputs);
        const pubsub = await startPubsubFake({ project: PROJECT, topics: manifest.topics, granted: manifest.functions[name]!.publishes });
        const transports = { DATABASE_URL: db.url, STORAGE_EMULATOR_HOST: gcs.endpoint, PUBSUB_EMULATOR_HOST: pubsub.host };
        fns[name] = await startBundle(name, { ...env, ...secrets, ...transports }, pubsub);
      }),
    );
  }, 600_000);

  afterAll(async () => {
    for (const fn of Object.values(fns)) fn.child.kill("SIGTERM");
    await Promise.all(Object.values(fns).map((fn) => fn.pubsub.close()));
    await gcs?.close();
    await encord?.close();
    await labelStudio?.close();
    await db?.close();
  });

  it("gives each function only its own secrets: the backend's key to register, poll and prelabel alone, the webhook secret to its function", () => {
    const backendKey = { local: [], encord: ["ENCORD_SSH_KEY"], labelstudio: ["LABEL_STUDIO_API_KEY"] }[backend];
    for (const name of FUNCTION_NAMES) {
      const { secrets } = terraformEnv(name, inputs);
      const own = name === "register" || name === "poll" || name === "prelabel" ? backendKey : name === "labelstudio-webhook" && backend === "labelstudio" ? ["LABEL_STUDIO_WEBHOOK_SECRET"] : [];
      expect(Object.keys(secrets).sort(), name).toEqual(["DB_PASSWORD", ...own]);
    }
  });

  it("ingest normalises an upload announced by Eventarc's GCS finalize event and publishes item.normalised", async () => {
    const png = await sharpCodec.encodePng({ width: 4, height: 3, channels: 3, data: new Uint8Array(36).map((_, i) => (i * 37) % 256) });
    const obj = gcs.putObject(BUCKET.archive, "cams/b/frame-1.png", png, "image/png");
    const res = await postCloudEvent(fns.ingest.url, gcsFinalized({ bucket: obj.bucket, name: obj.name, generation: obj.generation, size: String(obj.data.length), contentType: "image/png", md5Hash: obj.md5Hash, crc32c: obj.crc32c }, new Date()));
    expect(res.status, fns.ingest.output()).toBe(204);
    const { rows } = await db.db.query<{ id: string; state: string }>(`SELECT id, state FROM items WHERE source_name = 'cams/b/frame-1.png'`);
    expect(rows).toEqual([{ id: expect.any(String), state: "normalised" }]);
    expect(gcs.getObject(BUCKET.annotation, "items/frame-1/frame-1.png")?.contentType).toBe("image/png");
    expect(publishedBy(fns.ingest).map((p) => [p.topic, p.envelope.type, p.envelope.data])).toEqual([["item-normalised", "item.normalised", { itemId: rows[0]!.id }]]);
  });

  it("register registers a normalised item with the annotation backend and publishes items.registered", async () => {
    await seedItem(db.db, { id: "it_bundle_reg", state: "normalised", productName: "bundle-reg", width: 8, height: 8 });
    const res = await pushEnvelope(fns.register, buildEnvelope("item.normalised", { itemId: "it_bundle_reg" }, { id: "msg_b_reg", occurredAt: new Date() }), "b-reg-1");
    expect(res.status, fns.register.output()).toBe(204);
    const { rows } = await db.db.query<{ state: string; backend: string }>(`SELECT state, backend FROM items WHERE id = 'it_bundle_reg'`);
    expect(rows[0]).toEqual({ state: "registered", backend });
    if (backend === "encord") {
      expect([...encord!.state.items.values()].some((i) => i.clientMetadata.includes("it_bundle_reg"))).toBe(true);
      expect(encord!.state.counters.authFailures).toBe(0);
    } else if (labelStudio) {
      expect([...labelStudio.tasks.values()].map((t) => t.data.itemId)).toContain("it_bundle_reg");
      expect(labelStudio.counters.authFailures).toBe(0);
    } else {
      expect(gcs.getObject(BUCKET.annotation, "tasks/it_bundle_reg.json")).toBeDefined();
    }
    const registered = publishedBy(fns.register).filter((p) => p.envelope.type === "items.registered");
    expect(registered.map((p) => p.topic)).toEqual(["items-registered"]);
    expect((registered[0]!.envelope.data as { itemIds: string[] }).itemIds).toContain("it_bundle_reg");
  });

  it("poll takes a Cloud Scheduler tick and reads labels from the annotation backend", async () => {
    if (backend === "local") {
      await seedItem(db.db, { id: "it_bundle_poll", state: "registered", productName: "bundle-poll", width: 6, height: 4, backendRef: "tasks/it_bundle_poll.json" });
      const coco = {
        images: [{ id: 1, file_name: "bundle-poll.png", width: 6, height: 4 }],
        annotations: [{ id: 1, image_id: 1, category_id: 2, segmentation: [[0, 0, 6, 0, 6, 4, 0, 4]], bbox: [0, 0, 6, 4], iscrowd: 0 }],
        categories: [{ id: 2, name: "Clear" }],
      };
      gcs.putObject(BUCKET.annotation, "inbox/bundle-poll.json", JSON.stringify(coco), "application/json");
    }
    const before = encord?.state.counters.requests ?? labelStudio?.counters.requests ?? 0;
    const res = await postPush(fns.poll.url, "poll-tick", { messageId: "b-poll-1", attributes: { type: "poll.tick" } });
    expect(res.status, fns.poll.output()).toBe(204);
    if (backend === "local") {
      const item = await db.db.query<{ state: string }>(`SELECT state FROM items WHERE id = 'it_bundle_poll'`);
      expect(item.rows[0]?.state).toBe("accepted");
      expect(publishedBy(fns.poll).map((p) => [p.topic, p.envelope.data])).toEqual([["annotations-accepted", { accepted: 1, rejected: 0, itemIds: ["it_bundle_poll"] }]]);
    } else if (labelStudio) {
      // Nothing is annotated yet: poll listed the project's tasks with the secret key and found nothing.
      expect(labelStudio.counters.requests).toBeGreaterThan(before);
      expect(labelStudio.counters.authFailures).toBe(0);
      expect(handled(fns.poll).at(-1)).toMatchObject({ consumer: "poll", status: "skipped" });
    } else {
      // Nothing is complete in Encord yet: poll signed its requests with the secret key and found nothing.
      expect(encord!.state.counters.requests).toBeGreaterThan(before);
      expect(encord!.state.counters.authFailures).toBe(0);
      expect(handled(fns.poll).at(-1)).toMatchObject({ consumer: "poll", status: "skipped" });
    }
  });

  it("threshold takes annotations.accepted and records it below the threshold", async () => {
    const envelope = buildEnvelope("annotations.accepted", { accepted: 1, rejected: 0, itemIds: ["it_x"] }, { id: "msg_b_thr", occurredAt: new Date() });
    expect((await pushEnvelope(fns.threshold, envelope, "b-thr-1")).status, fns.threshold.output()).toBe(204);
    expect(handled(fns.threshold).at(-1)).toMatchObject({ consumer: "threshold", status: "skipped" });
    expect((await db.db.query(`SELECT 1 FROM inbox WHERE consumer = 'threshold' AND message_id = 'msg_b_thr'`)).rowCount).toBe(1);
  });

  it("on-training-completed records a failed run and nudges the threshold on threshold-tick (its publisher grant)", async () => {
    await seedTraining(db.db, "run_bundle_1");
    const envelope = buildEnvelope("training.failed", { runId: "run_bundle_1", reason: "trainer exited 1", resumable: false }, { id: "msg_b_tf", occurredAt: new Date() });
    expect((await pushEnvelope(fns["on-training-completed"], envelope, "b-otc-1")).status, fns["on-training-completed"].output()).toBe(204);
    const run = await db.db.query<{ state: string }>(`SELECT state FROM training_runs WHERE id = 'run_bundle_1'`);
    expect(run.rows[0]?.state).toBe("failed");
    expect(publishedBy(fns["on-training-completed"]).map((p) => [p.topic, p.envelope.type])).toEqual([["threshold-tick", "threshold.tick"]]);
    expect((await db.db.query(`SELECT 1 FROM outbox WHERE type = 'threshold.tick' AND sent_at IS NULL`)).rowCount).toBe(0);
  });

  it("promote applies the policy to an evaluation report and publishes model.promoted and a review request", async () => {
    const { versionId, outputPrefix } = await seedTraining(db.db, "run_bundle_2", "succeeded");
    await db.db.query(`INSERT INTO models (id, training_run_id, name, task, uri, card, dataset_version_id) VALUES ('mdl_b', 'run_bundle_2', 'baseline', 'segmentation', $1, $2, $3)`, [
      outputPrefix, JSON.stringify(modelCard("baseline", versionId)), versionId,
    ]);
    await db.db.query(`INSERT INTO evaluations (id, candidate_model_id, dataset_version_id, state, execution_name) VALUES ('eval_b', 'mdl_b', $1, 'running', 'projects/p/locations/r/jobs/evaluate/executions/e1')`, [versionId]);
    gcs.putObject(BUCKET.models, "default/evaluations/eval_b/report.json", JSON.stringify(evaluationReport("eval_b", "mdl_b", versionId, 0.82)), "application/json");
    const envelope = buildEnvelope("evaluation.completed", {
      evaluationId: "eval_b", candidateModelId: "mdl_b", championModelId: null,
      reportUri: `gs://${BUCKET.models}/default/evaluations/eval_b/report.json`, summaryUri: `gs://${BUCKET.models}/default/evaluations/eval_b/summary.html`,
    }, { id: "msg_b_ec", occurredAt: new Date() });
    expect((await pushEnvelope(fns.promote, envelope, "b-pro-1")).status, fns.promote.output()).toBe(204);
    expect((await db.db.query<{ alias: string }>(`SELECT alias FROM alias_moves WHERE model_id = 'mdl_b'`)).rows).toEqual([{ alias: "staging" }]);
    // staging moves; prod asks a human (the default policy), on the same topic.
    expect(publishedBy(fns.promote).map((p) => [p.topic, p.envelope.type])).toEqual([["model-promoted", "model.promoted"], ["model-promoted", "promotion.review_requested"]]);
  });

  it("command takes a command published by hand and publishes poll.tick", async () => {
    const res = await postPush(fns.command.url, "commands", { messageId: "b-cmd-1", data: { name: "poll" }, attributes: { type: "command" } });
    expect(res.status, fns.command.output()).toBe(204);
    expect(publishedBy(fns.command).map((p) => [p.topic, p.envelope.type])).toEqual([["poll-tick", "poll.tick"]]);
  });

  it("reconcile republishes an outbox row left unsent, whatever its topic", async () => {
    const stranded = buildEnvelope("dataset.version_created", { versionId: "dsv_x", line: "default", seq: 1, itemCount: 1, manifestUri: `gs://${BUCKET.datasets}/default/v1/manifest.json` }, { id: "msg_b_stranded", occurredAt: new Date() });
    await enqueueOutbox(db.db, stranded, topicFor("dataset.version_created"));
    await db.db.query(`UPDATE outbox SET created_at = now() - interval '1 minute' WHERE id = 'msg_b_stranded'`);
    const res = await postPush(fns.reconcile.url, "reconcile-tick", { messageId: "b-rec-1", attributes: { type: "reconcile.tick" } });
    expect(res.status, fns.reconcile.output()).toBe(204);
    await waitFor("the republished row to be marked sent", async () => (await db.db.query(`SELECT 1 FROM outbox WHERE id = 'msg_b_stranded' AND sent_at IS NOT NULL`)).rowCount === 1);
    expect(publishedBy(fns.reconcile).filter((p) => p.envelope.id === "msg_b_stranded").map((p) => p.topic)).toEqual(["dataset-version-created"]);
  });

  it("dashboard serves the status snapshot over HTTP", async () => {
    const res = await fetch(`${fns.dashboard.url}/api/status`);
    expect(res.status, fns.dashboard.output()).toBe(200);
    expect(await res.json()).toMatchObject({ funnel: expect.anything() });
  });

  it("labelstudio-webhook publishes the poll command for the shared secret (its publisher grant), and 401 without it", async () => {
    const hook = fns["labelstudio-webhook"];
    const post = (headers: Record<string, string>) =>
      fetch(`${hook.url}/`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ action: "ANNOTATION_CREATED" }) });
    expect((await post({})).status, hook.output()).toBe(401);
    // Only the Label Studio backend gives it the secret: elsewhere every call is refused.
    const res = await post({ "X-Mlops-Webhook-Secret": WEBHOOK_SECRET });
    expect(res.status, hook.output()).toBe(labelStudio ? 202 : 401);
    expect(publishedBy(hook).map((p) => [p.topic, p.envelope.type, p.envelope.data])).toEqual(labelStudio ? [["commands", "command", { name: "poll", actor: "labelstudio-webhook" }]] : []);
  });

  it("no function was refused a publish or failed its cold start, and none printed a secret", () => {
    for (const fn of Object.values(fns)) {
      expect(fn.pubsub.refused, fn.name).toEqual([]);
      expect(fn.child.exitCode, fn.name).toBeNull();
      expect(fn.output(), fn.name).not.toContain(DB_PASSWORD);
      if (encordKey) expect(fn.output(), fn.name).not.toContain(encordKey.openssh.split("\n")[1]!);
      if (labelStudio) expect(fn.output(), fn.name).not.toContain(labelStudio.apiKey);
      expect(fn.output(), fn.name).not.toContain(WEBHOOK_SECRET);
      expect(fn.output(), fn.name).not.toMatch(/invalid configuration|ConfigError/);
    }
  });
});
