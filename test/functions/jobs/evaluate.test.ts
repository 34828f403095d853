import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runEvaluationJob, type EvaluateJobDeps } from "../../../functions/jobs/evaluate.ts";
import { memoryLogger } from "../../../shared/adapters/basics.ts";
import { sharpCodec } from "../../../shared/adapters/imaging/codec.ts";
import { SpoolPublisher } from "../../../shared/adapters/messaging/spool.ts";
import { LocalObjectStore } from "../../../shared/adapters/store/local.ts";
import { EvaluationReportSchema } from "../../../shared/core/evaluation/report.ts";
import { parseEnvelope } from "../../../shared/messages/build.ts";
import type { ObjectStore } from "../../../shared/ports.ts";
import { segmentationLogitsModel } from "../../shared/core/evaluation/onnx-models.ts";
import { CLOUD_BY_RED, SCENE_RED } from "../../shared/core/evaluation/fixtures.ts";
import { sha256Hex } from "../../../shared/core/json.ts";
import { writeDataset, writeModel } from "./evaluate-fixtures.ts";

let workspace: string;
let store: LocalObjectStore;
let publisher: SpoolPublisher;

beforeEach(async () => {
  workspace = await mkdtemp(join(tmpdir(), "eval-job-"));
  store = new LocalObjectStore(join(workspace, "buckets"));
  publisher = new SpoolPublisher(workspace);
});
afterEach(async () => {
  await rm(workspace, { recursive: true, force: true });
});

const NOW = new Date("2026-03-01T10:00:00Z");

function deps(overrides: Partial<EvaluateJobDeps> = {}): EvaluateJobDeps & { log: ReturnType<typeof memoryLogger> } {
  return { store, publisher, codec: async () => sharpCodec, clock: { now: () => NOW }, log: memoryLogger(), ...overrides } as EvaluateJobDeps & { log: ReturnType<typeof memoryLogger> };
}

async function spooled(): Promise<ReturnType<typeof parseEnvelope>[]> {
  const dir = join(workspace, "spool");
  const files = (await readdir(dir)).filter((f) => f.endsWith(".json")).sort();
  return Promise.all(files.map(async (f) => parseEnvelope(JSON.parse(await readFile(join(dir, f), "utf8")))));
}

async function standardSetup() {
  const manifestUri = await writeDataset(store);
  await writeModel(store, "gs://models/clouds/run_2/", segmentationLogitsModel({ ...CLOUD_BY_RED, name: "cloud-net" }), { mIoU: 0.9 });
  await writeModel(store, "gs://models/clouds/run_1/", segmentationLogitsModel({ classes: ["background"], weights: [0, 0, 0], name: "background-only" }));
  return {
    EVALUATION_ID: "eval_1",
    CANDIDATE_MODEL_URI: "gs://models/clouds/run_2/",
    CANDIDATE_MODEL_ID: "mdl_2",
    CHAMPION_MODEL_URI: "gs://models/clouds/run_1/",
    CHAMPION_MODEL_ID: "mdl_1",
    DATASET_URI: manifestUri,
    REPORT_PREFIX: "gs://models/clouds/evaluations/eval_1/",
  };
}

describe("runEvaluationJob", () => {
  it("scores both models on the eval split, writes the report files and announces them", async () => {
    const env = await standardSetup();
    expect(await runEvaluationJob(env, deps())).toBe(0);

    const report = EvaluationReportSchema.parse(JSON.parse((await store.get(`${env.REPORT_PREFIX}report.json`)).toString("utf8")));
    // Three eval items of the scene (the train item is not scored): mIoU 0.75 for the candidate;
    // the background-only champion scores background IoU 4/7 over its one class.
    expect(report.evaluation.itemCount).toBe(3);
    expect(report.evaluation.candidate).toMatchObject({ modelId: "mdl_2", name: "cloud-net", primaryMetric: { name: "mIoU", value: 0.75 } });
    expect(report.evaluation.champion?.modelId).toBe("mdl_1");
    expect(report.evaluation.champion?.primaryMetric.value).toBeCloseTo(4 / 7, 12);
    expect(report.evaluation.candidate.confusion?.matrix).toEqual([[9, 3], [0, 9]]);
    expect(report.newClasses).toEqual(["cloud"]);
    expect(report.createdAt).toBe(NOW.toISOString());
    expect(report.discrepancies[0]).toMatch(/trainer reported mIoU 0\.900/);
    for (const name of ["summary.md", "summary.html", "per-class.svg"]) expect(await store.head(`${env.REPORT_PREFIX}${name}`)).not.toBeNull();
    expect((await store.get(`${env.REPORT_PREFIX}summary.md`)).toString("utf8")).toContain("| `cloud` (new) |");

    const messages = await spooled();
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({
      id: "evaluation.completed:eval_1",
      type: "evaluation.completed",
      data: {
        evaluationId: "eval_1", candidateModelId: "mdl_2", championModelId: "mdl_1",
        reportUri: `${env.REPORT_PREFIX}report.json`, summaryUri: `${env.REPORT_PREFIX}summary.html`,
      },
    });
  });

  it("writes the worst and best items of each model as input, label and prediction PNGs named by their SHA-256", async () => {
    const env = await standardSetup();
    expect(await runEvaluationJob(env, deps())).toBe(0);
    const report = EvaluationReportSchema.parse(JSON.parse((await store.get(`${env.REPORT_PREFIX}report.json`)).toString("utf8")));
    const candidate = report.evaluation.candidate.examples!;
    const champion = report.evaluation.champion!.examples!;
    // Three eval items with the same scene (tied scores): the lower two by id are "worst", the last "best".
    expect(candidate.worst.map((e) => [e.itemId, e.score])).toEqual([["item-0", 0.75], ["item-1", 0.75]]);
    expect(candidate.best.map((e) => [e.itemId, e.score])).toEqual([["item-3", 0.75]]);
    expect(champion.worst.map((e) => e.itemId)).toEqual(["item-0", "item-1"]);
    expect(champion.worst[0]!.score).toBeCloseTo(4 / 7, 12);
    expect(candidate.palette).toEqual({ classes: ["#9aa5b1", "#3b9a57"], nodata: "#000000", outOfRange: "#ff00ff" });

    const hex = (h: string) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
    const pixels = async (uri: string) => {
      expect(uri).toMatch(new RegExp(`^${env.REPORT_PREFIX}examples/[0-9a-f]{64}\\.png$`));
      const bytes = await store.get(uri);
      expect(sha256Hex(bytes)).toBe(/([0-9a-f]{64})\.png$/.exec(uri)![1]);
      expect((await store.head(uri))?.contentType).toBe("image/png");
      const decoded = await sharpCodec.decodePng(bytes);
      expect([decoded.width, decoded.height, decoded.channels]).toEqual([4, 2, 3]);
      return Array.from({ length: 8 }, (_, i) => Array.from(decoded.data.slice(i * 3, i * 3 + 3)));
    };
    for (const e of [...candidate.worst, ...candidate.best, ...champion.worst, ...champion.best]) {
      expect([e.width, e.height, e.sourceWidth, e.sourceHeight]).toEqual([4, 2, 4, 2]);
      const input = await pixels(e.input);
      expect(input.map((p) => p[0])).toEqual([...SCENE_RED]);
      const label = await pixels(e.label);
      expect(label).toEqual([0, 1, 1, 0, 1, 0, 0, "nodata"].map((v) => (v === "nodata" ? [0, 0, 0] : hex(candidate.palette.classes[v as number]!))));
    }
    // The candidate predicts cloud where red > 127; the champion background everywhere; nodata stays black.
    const bg = hex("#9aa5b1");
    const cloud = hex("#3b9a57");
    expect(await pixels(candidate.best[0]!.prediction)).toEqual([bg, cloud, cloud, bg, cloud, cloud, bg, [0, 0, 0]]);
    expect(await pixels(champion.worst[0]!.prediction)).toEqual([bg, bg, bg, bg, bg, bg, bg, [0, 0, 0]]);
    // Same item, same input and label picture: stored once, named once.
    expect(champion.worst[0]!.input).toBe(candidate.worst[0]!.input);
    expect(champion.worst[0]!.label).toBe(candidate.worst[0]!.label);
    expect(champion.worst[0]!.prediction).not.toBe(candidate.worst[0]!.prediction);
    // Identical items make identical pictures: 1 input + 1 label + 2 predictions in all.
    expect((await store.list(`${env.REPORT_PREFIX}examples/`)).length).toBe(4);
  });

  it("records the execution provider that ran each model (the CPU here, CUDA asked for first)", async () => {
    const env = await standardSetup();
    const log = memoryLogger();
    expect(await runEvaluationJob({ ...env, ONNX_EXECUTION_PROVIDERS: "cuda,cpu" }, deps({ log }))).toBe(0);
    const report = EvaluationReportSchema.parse(JSON.parse((await store.get(`${env.REPORT_PREFIX}report.json`)).toString("utf8")));
    expect(report.evaluation.candidate.executionProvider).toBe("cpu");
    expect(report.evaluation.champion?.executionProvider).toBe("cpu");
    // This onnxruntime build has no CUDA provider: the fallback is in the report and the logs.
    expect(report.warnings.filter((w) => /execution provider cuda: .*; ran on cpu/.test(w))).toHaveLength(2);
    expect(log.entries.some((e) => e.message === "execution provider unavailable; falling back" && e.fields.role === "candidate")).toBe(true);
    expect((await store.get(`${env.REPORT_PREFIX}summary.md`)).toString("utf8")).toContain("| candidate (cpu) |");
  });

  it("skips an item whose label holds a class id beyond the dataset's classes, counts it and says why", async () => {
    const env = await standardSetup();
    const manifestUri = await writeDataset(store, ["eval", "eval", "train", "eval"], { outOfRangeClassAt: 1 });
    expect(await runEvaluationJob({ ...env, DATASET_URI: manifestUri }, deps())).toBe(0);
    const report = EvaluationReportSchema.parse(JSON.parse((await store.get(`${env.REPORT_PREFIX}report.json`)).toString("utf8")));
    expect(report.evaluation.itemCount).toBe(2);
    expect(report.evaluation.skippedItems).toEqual([{ itemId: "item-1", reason: expect.stringMatching(/class id 7, but the dataset has 2 classes/) }]);
    expect(report.evaluation.candidate.primaryMetric.value).toBe(0.75);
    expect((await store.get(`${env.REPORT_PREFIX}summary.md`)).toString("utf8")).toContain("1 item(s) skipped:");
    expect((await store.get(`${env.REPORT_PREFIX}summary.html`)).toString("utf8")).toContain("1 item(s) skipped");
    expect((await spooled()).map((m) => m.type)).toEqual(["evaluation.completed"]);
  });

  it("also scores every item of a benchmark set when one is given", async () => {
    const env = await standardSetup();
    const benchmark = await writeDataset(new LocalObjectStore(join(workspace, "buckets")), ["train", "eval"]);
    expect(await runEvaluationJob({ ...env, BENCHMARK_DATASET_URI: benchmark }, deps())).toBe(0);
    const report = EvaluationReportSchema.parse(JSON.parse((await store.get(`${env.REPORT_PREFIX}report.json`)).toString("utf8")));
    // The benchmark's two items are both scored (split "all"); the eval split is still the judged one.
    expect(report.benchmark).toMatchObject({ datasetUri: benchmark, split: "all", itemCount: 2 });
    expect(report.benchmark?.candidate.primaryMetric.value).toBe(0.75);
    expect(report.evaluation.itemCount).toBe(3);
  });

  it("is idempotent: a second run republishes the same message without evaluating again", async () => {
    const env = await standardSetup();
    expect(await runEvaluationJob(env, deps())).toBe(0);
    const before = await store.head(`${env.REPORT_PREFIX}report.json`);
    const noModels = deps({ loadModel: () => Promise.reject(new Error("must not load models on a re-run")) });
    expect(await runEvaluationJob(env, noModels)).toBe(0);
    expect((await store.head(`${env.REPORT_PREFIX}report.json`))?.generation).toBe(before?.generation);
    const messages = await spooled();
    expect(messages.map((m) => m.id)).toEqual(["evaluation.completed:eval_1"]);
    expect(noModels.log.entries.some((e) => e.message.includes("already exists"))).toBe(true);
  });

  it("publishes evaluation.failed with a clear reason when a model does not match its card", async () => {
    const env = await standardSetup();
    const model = segmentationLogitsModel(CLOUD_BY_RED);
    // The card claims four bands; the graph takes three.
    await writeModel(store, env.CANDIDATE_MODEL_URI, { bytes: model.bytes, card: { ...model.card, input: { ...model.card.input, channels: ["red", "green", "blue", "nir"] } } });
    expect(await runEvaluationJob(env, deps())).toBe(0);
    const messages = await spooled();
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ id: "evaluation.failed:eval_1", type: "evaluation.failed", data: { evaluationId: "eval_1" } });
    expect((messages[0]!.data as { reason: string }).reason).toMatch(/model_card_mismatch: .*has 3 channels .* card lists 4/);
    expect(await store.head(`${env.REPORT_PREFIX}report.json`)).toBeNull();
  });

  it("publishes evaluation.failed for a corrupt manifest", async () => {
    const env = await standardSetup();
    await store.put(env.DATASET_URI, JSON.stringify({ schema: "dataset-manifest/v1", items: "nope" }));
    expect(await runEvaluationJob(env, deps())).toBe(0);
    const [message] = await spooled();
    expect(message?.type).toBe("evaluation.failed");
    expect((message!.data as { reason: string }).reason).toMatch(/corrupt_manifest: dataset manifest .* is invalid/);
  });

  it("exits 1 without publishing when the store fails transiently", async () => {
    const env = await standardSetup();
    const flaky: ObjectStore = Object.create(store) as ObjectStore;
    flaky.get = () => Promise.reject(new Error("socket hang up"));
    expect(await runEvaluationJob(env, deps({ store: flaky }))).toBe(1);
    await expect(readdir(join(workspace, "spool"))).rejects.toThrow();
  });

  it("reports an unusable environment through evaluation.failed when it knows the evaluation id", async () => {
    expect(await runEvaluationJob({ EVALUATION_ID: "eval_9", CANDIDATE_MODEL_URI: "not-a-uri" }, deps())).toBe(0);
    const [message] = await spooled();
    expect(message).toMatchObject({ type: "evaluation.failed", data: { evaluationId: "eval_9" } });
    expect((message!.data as { reason: string }).reason).toMatch(/CANDIDATE_MODEL_URI/);
    expect(await runEvaluationJob({}, deps())).toBe(2);
  });
});
