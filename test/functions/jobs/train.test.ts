import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_BAD_INPUT, EXIT_OK, EXIT_RETRY, EXIT_TERMINATED, runTrainingJob, type TrainingJobDeps } from "../../../functions/jobs/train.ts";
import { OnnxGraph } from "../../../shared/adapters/onnx/onnx-builder.ts";
import { parseModelCard } from "../../../shared/adapters/onnx/validate.ts";
import { memoryLogger } from "../../../shared/adapters/basics.ts";
import { SpoolPublisher } from "../../../shared/adapters/messaging/spool.ts";
import { LocalObjectStore } from "../../../shared/adapters/store/local.ts";
import { TransientError } from "../../../shared/errors.ts";
import { parseEnvelope } from "../../../shared/messages/build.ts";
import type { ObjectInfo, ObjectStore, PutOptions } from "../../../shared/ports.ts";
import { demoManifest, makeDemoItem, type DemoItem } from "./trainers/demo-dataset.ts";

/** A store that records every write, in order, and can be told to fail. */
class RecordingStore implements ObjectStore {
  writes: string[] = [];
  downloads: string[] = [];
  failGet: ((uri: string) => boolean) | null = null;
  constructor(private readonly inner: LocalObjectStore) {}
  get(uri: string) {
    if (this.failGet?.(uri)) return Promise.reject(new TransientError(`503 from storage for ${uri}`));
    return this.inner.get(uri);
  }
  readRange(uri: string, offset: number, length: number) {
    if (this.failGet?.(uri)) return Promise.reject(new TransientError(`503 from storage for ${uri}`));
    return this.inner.readRange(uri, offset, length);
  }
  put(uri: string, body: Uint8Array | string, options?: PutOptions): Promise<ObjectInfo> {
    this.writes.push(uri);
    return this.inner.put(uri, body, options);
  }
  head(uri: string) { return this.inner.head(uri); }
  list(prefix: string) { return this.inner.list(prefix); }
  delete(uri: string) { return this.inner.delete(uri); }
  download(uri: string, path: string) {
    this.downloads.push(uri);
    return this.inner.download(uri, path);
  }
  upload(path: string, uri: string, options?: PutOptions): Promise<ObjectInfo> {
    this.writes.push(uri);
    return this.inner.upload(path, uri, options);
  }
  signedUrl(uri: string) { return this.inner.signedUrl(uri); }
  getStream(uri: string) { return this.inner.getStream(uri); }
  putAddressed(source: AsyncIterable<Uint8Array>, uriFor: (sha256: string) => string, options?: PutOptions) {
    return this.inner.putAddressed(source, uriFor, options);
  }
}

/**
 * A stand-in for a team's trainer (plain JS, started through TRAINER_COMMAND). Modes:
 * ok       copy the fixture model + card, record which checkpoints it found, bump the checkpoint
 * badcard  like ok, but with a card that says 3 bands for a 4-band model
 * wait     write a checkpoint, print "ready", wait; on SIGTERM save a last checkpoint and exit 143
 */
const FAKE_TRAINER = `
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
const [mode, fixtures] = process.argv.slice(2);
const { OUTPUT_DIR, CHECKPOINT_DIR } = process.env;
const walk = (d) => readdirSync(d).flatMap((n) => statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]);
if (mode === "wait") {
  writeFileSync(join(CHECKPOINT_DIR, "checkpoint.json"), JSON.stringify({ epoch: 1 }));
  process.on("SIGTERM", () => {
    writeFileSync(join(CHECKPOINT_DIR, "checkpoint.json"), JSON.stringify({ epoch: 2, savedOnSigterm: true }));
    process.exit(143);
  });
  console.log("ready");
  setInterval(() => {}, 1000);
} else {
  const seen = Object.fromEntries(walk(CHECKPOINT_DIR).map((f) => [relative(CHECKPOINT_DIR, f), readFileSync(f, "utf8")]));
  const previous = existsSync(join(CHECKPOINT_DIR, "checkpoint.json")) ? JSON.parse(readFileSync(join(CHECKPOINT_DIR, "checkpoint.json"), "utf8")).epoch : 0;
  writeFileSync(join(CHECKPOINT_DIR, "checkpoint.json"), JSON.stringify({ epoch: previous + 1 }));
  mkdirSync(join(OUTPUT_DIR, "extra"), { recursive: true });
  writeFileSync(join(OUTPUT_DIR, "extra", "seen-checkpoints.json"), JSON.stringify(seen));
  const base = process.env.BASE_MODEL_PATH;
  const environment = { base: base ? readdirSync(base).sort() : null, slackToken: process.env.SLACK_BOT_TOKEN ?? null, runId: process.env.RUN_ID, params: process.env.PARAMS };
  writeFileSync(join(OUTPUT_DIR, "extra", "environment.json"), JSON.stringify(environment));
  copyFileSync(join(fixtures, "model.onnx"), join(OUTPUT_DIR, "model.onnx"));
  copyFileSync(join(fixtures, mode === "badcard" ? "bad-card.json" : "card.json"), join(OUTPUT_DIR, "model.json"));
  writeFileSync(join(OUTPUT_DIR, "metrics.json"), JSON.stringify({ source: "fake", pixelAccuracy: 0.5 }));
  console.log("done");
}
`;

const CLASSES = ["background", "land", "water", "thick_cloud", "thin_cloud", "cloud_shadow"];
let root: string;
let fixtures: string;
let fakeTrainer: string;
let items: DemoItem[];
let datasetUri: string;
let versionId: string;

function card(channels: string[]) {
  return {
    name: "fake", task: "segmentation", classes: CLASSES,
    input: { name: "input", layout: "NCHW", height: null, width: null, channels },
    output: { name: "logits", format: "logits" },
  };
}

async function workspace(name: string) {
  const ws = join(root, name);
  const local = new LocalObjectStore(join(ws, "buckets"));
  const store = new RecordingStore(local);
  const { files } = demoManifest(items);
  for (const [uri, bytes] of files) await local.put(uri, bytes);
  const { manifestJson } = demoManifest(items);
  await local.put(datasetUri, manifestJson);
  await local.put(`gs://datasets/default/${versionId}/exports/coco.json`, '{"images":[]}');
  const sink: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const log = memoryLogger(sink);
  const deps: TrainingJobDeps = { store, publisher: new SpoolPublisher(ws), log, clock: { now: () => new Date("2025-03-01T12:00:00.000Z") } };
  return { ws, store, local, deps, sink };
}

function jobEnv(runId: string, extra: Record<string, string> = {}) {
  return { MLOPS_WORKSPACE: "unused-by-the-job", RUN_ID: runId, DATASET_URI: datasetUri, OUTPUT_PREFIX: `gs://models/runs/${runId}/`, PARAMS: "{}", ...extra };
}

const fakeCommand = (mode: string) => `"${process.execPath}" "${fakeTrainer}" ${mode} "${fixtures}"`;

async function spooled(ws: string) {
  let names: string[] = [];
  try {
    names = (await readdir(join(ws, "spool"))).filter((n) => n.endsWith(".json"));
  } catch {
    return [];
  }
  return Promise.all(names.map(async (n) => parseEnvelope(JSON.parse(await readFile(join(ws, "spool", n), "utf8")))));
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "train-job-"));
  fixtures = join(root, "fixtures");
  fakeTrainer = join(root, "fake-trainer.mjs");
  await writeFile(fakeTrainer, FAKE_TRAINER);
  const g = new OnnxGraph();
  g.addInput("input", "float32", ["N", 4, "H", "W"]);
  g.addInitializer("w", new Float32Array(6 * 4).fill(0.1), [6, 4, 1, 1]);
  g.addNode("Conv", ["input", "w"], ["logits"]);
  g.addOutput("logits", "float32", ["N", 6, "H", "W"]);
  await mkdir(fixtures, { recursive: true });
  await writeFile(join(fixtures, "model.onnx"), g.toBytes());
  await writeFile(join(fixtures, "card.json"), JSON.stringify(card(["red", "green", "blue", "nir"])));
  await writeFile(join(fixtures, "bad-card.json"), JSON.stringify(card(["red", "green", "blue"])));

  items = [];
  for (let k = 0; k < 4; k++) items.push(await makeDemoItem(`it_${k}`, 500 + k, 32, k === 3 ? "eval" : "train"));
  versionId = demoManifest(items).versionId;
  datasetUri = `gs://datasets/default/${versionId}/manifest.json`;
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("training job", () => {
  it("trains with the baseline, uploads outputs, writes result.json last and publishes training.completed", async () => {
    const { ws, store, local, deps, sink } = await workspace("baseline");
    const code = await runTrainingJob(jobEnv("run_a", { PARAMS: JSON.stringify({ epochs: 2, samplesPerImage: 300 }) }), deps);
    expect(code).toBe(EXIT_OK);

    const prefix = "gs://models/runs/run_a/";
    for (const name of ["model.onnx", "model.json", "metrics.json", "train.log", "result.json", "checkpoints/checkpoint.json"]) {
      expect(await local.head(prefix + name), name).not.toBeNull();
    }
    expect(store.writes.at(-1)).toBe(`${prefix}result.json`);
    const result = JSON.parse((await local.get(`${prefix}result.json`)).toString()) as Record<string, unknown>;
    expect(result).toEqual({ runId: "run_a", modelUri: `${prefix}model.onnx`, cardUri: `${prefix}model.json`, metricsUri: `${prefix}metrics.json`, completedAt: "2025-03-01T12:00:00.000Z" });

    const card = parseModelCard(JSON.parse((await local.get(`${prefix}model.json`)).toString()));
    expect(card.dataset?.versionId).toBe(versionId);
    expect((await local.get(`${prefix}train.log`)).toString()).toContain("epoch 2/2 loss");
    // The trainer's progress went through the job's logger too.
    expect(sink.some((e) => e.message.startsWith("epoch 1/2") && e.fields.runId === "run_a")).toBe(true);

    // Only the train split was downloaded: the eval item's files stay out of the trainer's reach.
    const evalUris = Object.values(demoManifest(items).manifest.items[3]!.images).map((i) => i!.uri);
    expect(store.downloads.some((u) => evalUris.includes(u))).toBe(false);
    expect(store.downloads).toContain(`gs://datasets/default/${versionId}/exports/coco.json`);

    const messages = await spooled(ws);
    expect(messages).toHaveLength(1);
    const completed = messages[0]!;
    expect(completed.type).toBe("training.completed");
    expect(completed.id).toBe("training.completed:run_a");
    expect(completed.data).toMatchObject({ runId: "run_a", outputPrefix: prefix, modelUri: `${prefix}model.onnx`, cardUri: `${prefix}model.json` });
    expect((completed.data as { selfReported: Record<string, unknown> }).selfReported.source).toBe("trainer-self-reported");

    // A second execution finds result.json: nothing is trained or written again, the message is republished.
    await rm(join(ws, "spool"), { recursive: true });
    store.writes = [];
    expect(await runTrainingJob(jobEnv("run_a"), deps)).toBe(EXIT_OK);
    expect(store.writes).toEqual([]);
    const again = await spooled(ws);
    expect(again.map((m) => [m.type, m.id])).toEqual([["training.completed", "training.completed:run_a"]]);
    expect(again[0]!.data).toEqual(completed.data);
  });

  it("restores checkpoints an earlier execution left, and uploads every output file", async () => {
    const { ws, local, deps } = await workspace("resume");
    const prefix = "gs://models/runs/run_r/";
    await local.put(`${prefix}checkpoints/checkpoint.json`, JSON.stringify({ epoch: 7 }));
    await local.put(`${prefix}checkpoints/optimizer/state.bin`, "adam");
    await local.put("gs://models/runs/run_0/model.onnx", await readFile(join(fixtures, "model.onnx")));
    await local.put("gs://models/runs/run_0/model.json", await readFile(join(fixtures, "card.json")));
    // The job's own environment may hold secrets; the team's trainer gets none of them.
    const secret = `test-token-${Math.random().toString(36).slice(2)}`;
    process.env.SLACK_BOT_TOKEN = secret;
    try {
      const env = jobEnv("run_r", { TRAINER_COMMAND: fakeCommand("ok"), BASE_MODEL_URI: "gs://models/runs/run_0", PARAMS: '{"lr":0.1}' });
      expect(await runTrainingJob(env, deps)).toBe(EXIT_OK);
    } finally {
      delete process.env.SLACK_BOT_TOKEN;
    }
    const environment = JSON.parse((await local.get(`${prefix}extra/environment.json`)).toString()) as Record<string, unknown>;
    expect(environment).toEqual({ base: ["model.json", "model.onnx"], slackToken: null, runId: "run_r", params: '{"lr":0.1}' });

    const seen = JSON.parse((await local.get(`${prefix}extra/seen-checkpoints.json`)).toString()) as Record<string, string>;
    expect(seen).toEqual({ "checkpoint.json": JSON.stringify({ epoch: 7 }), "optimizer/state.bin": "adam" });
    expect(JSON.parse((await local.get(`${prefix}checkpoints/checkpoint.json`)).toString())).toEqual({ epoch: 8 });
    const [completed] = await spooled(ws);
    expect((completed!.data as { selfReported: unknown }).selfReported).toEqual({ source: "fake", pixelAccuracy: 0.5 });
  });

  it("announces a trainer crash as resumable (with its stderr), records it in failure.json, and exits 0", async () => {
    const { ws, local, deps } = await workspace("failing");
    const command = `"${process.execPath}" -e "console.error('reading tiles'); console.error('boom: CUDA error'); process.exit(3)"`;
    expect(await runTrainingJob(jobEnv("run_f", { TRAINER_COMMAND: command, RUN_ATTEMPT: "2" }), deps)).toBe(EXIT_OK);
    const messages = await spooled(ws);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.type).toBe("training.failed");
    const data = messages[0]!.data as { runId: string; reason: string; resumable: boolean; attempt: number };
    expect(data).toMatchObject({ runId: "run_f", resumable: true, attempt: 2 });
    expect(data.reason).toBe("trainer exited with code 3: reading tiles | boom: CUDA error");
    // The id names the attempt: the same crash in the next attempt is another message.
    expect(messages[0]!.id).toMatch(/^training\.failed:run_f:a2:[0-9a-f]{12}$/);
    const record = JSON.parse((await local.get("gs://models/runs/run_f/failure.json")).toString()) as Record<string, unknown>;
    expect(record).toEqual({ runId: "run_f", attempt: 2, reason: data.reason, resumable: true, messageId: messages[0]!.id });
    expect(await local.head("gs://models/runs/run_f/result.json")).toBeNull();
  });

  it("fails the run for good when the trainer exits with a bad-input code (2, sysexits 64–78)", async () => {
    const { ws, deps } = await workspace("badinput");
    for (const [runId, code] of [["run_u", 2], ["run_d", 65]] as const) {
      const command = `"${process.execPath}" -e "console.error('no band 5 in this dataset'); process.exit(${code})"`;
      expect(await runTrainingJob(jobEnv(runId, { TRAINER_COMMAND: command }), deps)).toBe(EXIT_OK);
    }
    const byRun = Object.fromEntries((await spooled(ws)).map((m) => [(m.data as { runId: string }).runId, m.data as { reason: string; resumable: boolean }]));
    expect(byRun.run_u).toMatchObject({ resumable: false, reason: "trainer_bad_input: trainer exited with code 2 (bad input): no band 5 in this dataset" });
    expect(byRun.run_d).toMatchObject({ resumable: false, reason: expect.stringMatching(/^trainer_bad_input: trainer exited with code 65 \(bad input\)/) });
  });

  it("exits 2 when a permanent failure cannot be announced, leaving failure.json for reconcile", async () => {
    const { local, deps } = await workspace("unannounced");
    const broken = { ...deps, publisher: { publish: () => Promise.reject(new Error("pubsub down")) } };
    const command = `"${process.execPath}" -e "process.exit(2)"`;
    expect(await runTrainingJob(jobEnv("run_x", { TRAINER_COMMAND: command }), broken)).toBe(EXIT_BAD_INPUT);
    const record = JSON.parse((await local.get("gs://models/runs/run_x/failure.json")).toString()) as { resumable: boolean; reason: string };
    expect(record).toMatchObject({ resumable: false, reason: expect.stringMatching(/^trainer_bad_input/) });
    // Without a RUN_ID nobody can be told: exit 2 as well.
    expect(await runTrainingJob({ DATASET_URI: datasetUri }, deps)).toBe(EXIT_BAD_INPUT);
  });

  it("refuses a model that does not match its card", async () => {
    const { ws, local, deps } = await workspace("badcard");
    expect(await runTrainingJob(jobEnv("run_b", { TRAINER_COMMAND: fakeCommand("badcard") }), deps)).toBe(EXIT_OK);
    const [failed] = await spooled(ws);
    expect(failed!.type).toBe("training.failed");
    expect((failed!.data as { reason: string }).reason).toMatch(/model_card_mismatch: .*has 4 channels on the NCHW channel axis but the card lists 3/);
    expect(await local.head("gs://models/runs/run_b/model.onnx")).toBeNull();
  });

  it("on SIGTERM stops the trainer, saves its checkpoints and exits non-zero without announcing anything", async () => {
    const { ws, local, deps, sink } = await workspace("sigterm");
    const controller = new AbortController();
    const prefix = "gs://models/runs/run_s/";
    const running = runTrainingJob(jobEnv("run_s", { TRAINER_COMMAND: fakeCommand("wait") }), deps, controller.signal, { checkpointIntervalMs: 50, stopGraceMs: 5000 });
    // Wait for the periodic upload of the trainer's first checkpoint, then deliver SIGTERM.
    while (!(sink.some((e) => e.message === "ready") && (await local.head(`${prefix}checkpoints/checkpoint.json`)))) {
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(JSON.parse((await local.get(`${prefix}checkpoints/checkpoint.json`)).toString())).toEqual({ epoch: 1 });
    controller.abort();
    expect(await running).toBe(EXIT_TERMINATED);
    expect(JSON.parse((await local.get(`${prefix}checkpoints/checkpoint.json`)).toString())).toEqual({ epoch: 2, savedOnSigterm: true });
    expect(await spooled(ws)).toEqual([]);
    expect(await local.head(`${prefix}result.json`)).toBeNull();
  });

  it("trains from scratch when the base model is incomplete", async () => {
    const { local, deps, sink } = await workspace("nobase");
    const env = jobEnv("run_n", { TRAINER_COMMAND: fakeCommand("ok"), BASE_MODEL_URI: "gs://models/runs/missing/model.onnx" });
    expect(await runTrainingJob(env, deps)).toBe(EXIT_OK);
    const environment = JSON.parse((await local.get("gs://models/runs/run_n/extra/environment.json")).toString()) as Record<string, unknown>;
    expect(environment.base).toBeNull();
    expect(sink.find((e) => e.message.startsWith("base model incomplete"))?.fields.missing).toBe("gs://models/runs/missing/model.onnx");
  });

  it("runs as a process with the local job deps (workspace buckets and spool)", async () => {
    const { ws, local } = await workspace("process");
    const env = { ...process.env, ...jobEnv("run_p", { TRAINER_COMMAND: fakeCommand("ok") }), MLOPS_WORKSPACE: ws, MLOPS_RUNTIME: "local", LOG_LEVEL: "warn" };
    const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("../../../functions/jobs/train.ts", import.meta.url))], { env, stdio: "ignore" });
    const [code] = (await once(child, "exit")) as [number | null];
    expect(code).toBe(0);
    expect(await local.head("gs://models/runs/run_p/result.json")).not.toBeNull();
    expect((await spooled(ws)).map((m) => m.id)).toEqual(["training.completed:run_p"]);
  });

  it("exits 1 on a storage error so Cloud Run retries, without announcing a failure", async () => {
    const { ws, store, deps } = await workspace("storage");
    store.failGet = (uri) => uri.endsWith("manifest.json");
    expect(await runTrainingJob(jobEnv("run_t"), deps)).toBe(EXIT_RETRY);
    expect(await spooled(ws)).toEqual([]);
  });

  it("fails permanently on a dataset whose objects changed after freezing, or on bad job input", async () => {
    const { ws, local, deps } = await workspace("corrupt");
    await local.put(demoManifest(items).manifest.items[1]!.label.uri, '{"tampered":true}');
    expect(await runTrainingJob(jobEnv("run_c"), deps)).toBe(EXIT_OK);
    expect(await runTrainingJob(jobEnv("run_e", { OUTPUT_PREFIX: "gs://models/no-slash" }), deps)).toBe(EXIT_OK);
    const reasons = Object.fromEntries((await spooled(ws)).map((m) => [(m.data as { runId: string }).runId, (m.data as { reason: string }).reason]));
    expect(reasons.run_c).toMatch(/^dataset_corrupt: gs:\/\/datasets\/labels\/.* has SHA-256/);
    expect(reasons.run_e).toMatch(/OUTPUT_PREFIX: must end with \//);
  });
});
