/**
 * The baseline trainer: a per-pixel spectral classifier (MLP) for segmentation, exported as ONNX.
 * It follows the trainer contract (docs/jobs.md "The trainer process") like any team trainer would, as a separate
 * process started by the wrapper:
 *
 *   DATA_DIR         the dataset (layout in functions/jobs/train/data-dir.ts)
 *   OUTPUT_DIR       where model.onnx, model.json and metrics.json go
 *   CHECKPOINT_DIR   checkpoint.json, written after every epoch and resumed from when present
 *   PARAMS           JSON, see shared/core/training/params.ts
 *   BASE_MODEL_PATH  optional folder with a previous model.onnx + model.json to warm-start from
 *
 * Progress goes to stdout as lines (`epoch 3/30 loss 0.41 …`); a failure prints one line to
 * stderr and exits 2 when the input is bad (retrying cannot help: the run fails) or 1 otherwise (the
 * run resumes from the checkpoint). The math is in shared/core/training; this file is the I/O around it.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import * as z from "zod";
import { describeError, PermanentError } from "../../../shared/errors.ts";
import { summariseIssues } from "../../../shared/messages/build.ts";
import { TRAINER_EXIT_BAD_INPUT } from "../../../shared/messages/jobs.ts";
import { sharpCodec } from "../../../shared/adapters/imaging/codec.ts";
import { sha256Hex } from "../../../shared/core/json.ts";
import { ModelCardSchema, type ModelCard } from "../../../shared/core/models/model-card.ts";
import { checkpointFingerprint, parseCheckpoint, serialiseCheckpoint, type Checkpoint, type EpochRecord } from "../../../shared/core/training/checkpoint.ts";
import { createTrainingState, fit, learningRateAt, type TrainingSet, type TrainingState } from "../../../shared/core/training/fit.ts";
import { predict, type MlpShape } from "../../../shared/core/training/mlp.ts";
import { parseBaselineParams, type BaselineParams } from "../../../shared/core/training/params.ts";
import { SeededRng, deriveSeed } from "../../../shared/core/training/rng.ts";
import { sampleMetrics } from "../../../shared/core/training/sample-metrics.ts";
import { channelStats, concatSets, samplePixels, splitHoldout, standardise, type ChannelStats } from "../../../shared/core/training/sampling.ts";
import type { ImageCodec } from "../../../shared/ports.ts";
import { IGNORE_LABEL, channelsFor, loadLabelledImage, readManifest } from "./baseline-data.ts";
import { BASELINE_TRAINER_NAME, buildBaselineCard, buildBaselineOnnx, warmStartFrom } from "./baseline-model.ts";

const EnvSchema = z.object({
  DATA_DIR: z.string().min(1),
  OUTPUT_DIR: z.string().min(1),
  CHECKPOINT_DIR: z.string().min(1),
  PARAMS: z.string().default("{}"),
  BASE_MODEL_PATH: z.string().min(1).optional(),
});

export const CHECKPOINT_FILE = "checkpoint.json";

export interface TrainerIo {
  codec: ImageCodec;
  /** Progress lines (stdout in the real process). */
  print: (line: string) => void;
  now: () => Date;
}

export interface BaselineResult {
  epochs: number;
  resumedFromEpoch: number | null;
  metrics: Record<string, unknown>;
}

/** Images decoded at once: sharp decodes off the main thread, so a few in flight overlap. */
const LOAD_CONCURRENCY = 4;

export async function runBaselineTrainer(env: Record<string, string | undefined>, io: TrainerIo): Promise<BaselineResult> {
  const parsedEnv = EnvSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== "")));
  if (!parsedEnv.success) throw new PermanentError("invalid_env", `baseline trainer environment: ${summariseIssues(parsedEnv.error.issues)}`);
  const { DATA_DIR: dataDir, OUTPUT_DIR: outputDir, CHECKPOINT_DIR: checkpointDir, BASE_MODEL_PATH: basePath } = parsedEnv.data;
  let rawParams: unknown;
  try {
    rawParams = JSON.parse(parsedEnv.data.PARAMS);
  } catch (err) {
    throw new PermanentError("invalid_params", `PARAMS is not JSON: ${(err as Error).message}`);
  }
  const { params, ignoredKeys } = parseBaselineParams(rawParams);
  if (ignoredKeys.length) io.print(`ignoring PARAMS the baseline does not use: ${ignoredKeys.join(", ")}`);

  const { manifest, versionId } = await readManifest(dataDir);
  if (manifest.task !== "segmentation") throw new PermanentError("unsupported_task", `the baseline trainer does segmentation; this dataset is ${manifest.task}`);
  const items = manifest.items.filter((i) => i.split === "train");
  if (items.length === 0) throw new PermanentError("no_training_data", "the dataset has no items in the train split");
  const classes = manifest.classes;
  const channels = channelsFor(items);
  const shape: MlpShape = { inputs: channels.length, hidden: params.hidden, classes: classes.length };
  const perImage = Math.max(1, Math.min(params.samplesPerImage, Math.floor(params.maxSamples / items.length)));
  io.print(`dataset ${manifest.line} v${manifest.seq}: ${items.length} training images, classes ${classes.join(",")}, bands ${channels.join(",")}, ${perImage} pixels per image`);

  // Sampling: each image's draw is seeded by its id, so the sample is the same on every resume.
  const sets: TrainingSet[] = new Array(items.length);
  for (let start = 0; start < items.length; start += LOAD_CONCURRENCY) {
    await Promise.all(
      items.slice(start, start + LOAD_CONCURRENCY).map(async (item, k) => {
        const image = await loadLabelledImage(dataDir, item, channels, classes.length, io.codec);
        const options = { samplesPerImage: perImage, numClasses: classes.length, balancePower: params.balancePower, ignoreValue: IGNORE_LABEL };
        sets[start + k] = samplePixels(image, options, new SeededRng(deriveSeed(params.seed, `sample:${item.itemId}`)));
      }),
    );
  }
  const all = concatSets(sets, shape.inputs);
  if (all.count < 2) throw new PermanentError("no_training_data", "the training images have no labelled pixels outside nodata");
  const { train, holdout } = splitHoldout(all, shape.inputs, params.holdoutFraction, new SeededRng(deriveSeed(params.seed, "holdout")));

  const base = basePath ? await readBaseModel(basePath, io) : null;
  const fingerprint = checkpointFingerprint({ trainer: BASELINE_TRAINER_NAME, params, classes, channels, versionId, base: base?.sha256 ?? null });
  const checkpoint = await readCheckpoint(checkpointDir, fingerprint, io);

  let state: TrainingState;
  let normalisation: ChannelStats;
  if (checkpoint) {
    state = checkpoint.state;
    normalisation = checkpoint.normalisation;
    io.print(`resuming from checkpoint after epoch ${state.epoch}/${params.epochs}`);
  } else {
    const warm = base ? warmStartFrom(base, shape, classes, channels, params.seed) : null;
    if (warm && !warm.ok) io.print(`not warm-starting: ${warm.reason}`);
    if (warm?.ok) io.print(`warm-starting from the base model (classes carried over: ${warm.reusedClasses.join(",") || "none"})`);
    normalisation = warm?.ok ? warm.normalisation : channelStats(train, shape.inputs);
    state = createTrainingState(shape, params.seed, warm?.ok ? warm.weights : undefined);
  }
  standardise(train, shape.inputs, normalisation);
  standardise(holdout, shape.inputs, normalisation);
  const resumedFromEpoch = checkpoint ? checkpoint.state.epoch : null;

  const fitOptions = { epochs: params.epochs, batchSize: params.batchSize, learningRate: params.learningRate };
  const history: EpochRecord[] = [...(checkpoint?.history ?? [])];
  await mkdir(checkpointDir, { recursive: true });
  await fit(state, train, fitOptions, async (s, loss) => {
    // The held-out pixels after every epoch: the per-epoch curve the dashboard draws (cheap: a pixel sample).
    const heldOut = sampleMetrics(holdout.y, predict(s.shape, s.weights, holdout.x, holdout.count), classes);
    const learningRate = learningRateAt(s.epoch - 1, fitOptions);
    history.push({ epoch: s.epoch, loss, learningRate, pixelAccuracy: finiteOrNull(heldOut.pixelAccuracy), mIoU: finiteOrNull(heldOut.mIoU) });
    await writeAtomically(join(checkpointDir, CHECKPOINT_FILE), serialiseCheckpoint({ fingerprint, state: s, normalisation, history }));
    io.print(`epoch ${s.epoch}/${params.epochs} loss ${loss.toFixed(4)} lr ${learningRate.toExponential(2)}`);
  });

  const metrics: Record<string, unknown> = { ...selfReportedMetrics(state, holdout, classes, params, train.count, items.length), history };
  io.print(`held-out training pixels: accuracy ${(metrics.pixelAccuracy as number).toFixed(4)}, mIoU ${String(metrics.mIoU === null ? "n/a" : (metrics.mIoU as number).toFixed(4))}`);

  await mkdir(outputDir, { recursive: true });
  const card = buildBaselineCard({ classes, channels, normalisation, params, versionId, line: manifest.line, createdAt: io.now().toISOString() });
  await writeAtomically(join(outputDir, "model.onnx"), buildBaselineOnnx(shape, state.weights));
  await writeAtomically(join(outputDir, "model.json"), `${JSON.stringify(card, null, 2)}\n`);
  await writeAtomically(join(outputDir, "metrics.json"), `${JSON.stringify(metrics, null, 2)}\n`);
  io.print(`wrote ${outputDir}/model.onnx, model.json, metrics.json`);
  return { epochs: state.epoch, resumedFromEpoch, metrics };
}

function finiteOrNull(value: number | null): number | null {
  return value !== null && Number.isFinite(value) ? value : null;
}

function selfReportedMetrics(state: TrainingState, holdout: TrainingSet, classes: string[], params: BaselineParams, trainPixels: number, images: number): Record<string, unknown> {
  const predicted = predict(state.shape, state.weights, holdout.x, holdout.count);
  const m = sampleMetrics(holdout.y, predicted, classes);
  return {
    source: "trainer-self-reported",
    note: "Measured by the trainer on a held-out share of its own sampled training pixels (same images, class-balanced sample); not an evaluation result.",
    trainer: BASELINE_TRAINER_NAME,
    pixelAccuracy: m.pixelAccuracy,
    mIoU: m.mIoU,
    perClassIoU: m.perClassIoU,
    heldOutPixels: m.pixels,
    trainPixels,
    images,
    epochs: state.epoch,
    finalLoss: state.losses.at(-1) ?? null,
    seed: params.seed,
  };
}

/** The previous model to warm-start from, or null (with the reason printed) when it is unusable. */
async function readBaseModel(dir: string, io: TrainerIo): Promise<{ card: ModelCard; onnx: Uint8Array; sha256: string } | null> {
  try {
    const onnx = await readFile(join(dir, "model.onnx"));
    const card = ModelCardSchema.safeParse(JSON.parse(await readFile(join(dir, "model.json"), "utf8")));
    if (!card.success) throw new Error(`model.json: ${summariseIssues(card.error.issues)}`);
    return { card: card.data, onnx, sha256: sha256Hex(onnx) };
  } catch (err) {
    io.print(`not warm-starting: cannot read the base model in ${dir} (${describeError(err)})`);
    return null;
  }
}

async function readCheckpoint(dir: string, fingerprint: string, io: TrainerIo): Promise<Checkpoint | null> {
  const path = join(dir, CHECKPOINT_FILE);
  if (!existsSync(path)) return null;
  try {
    const checkpoint = parseCheckpoint(await readFile(path, "utf8"));
    if (checkpoint.fingerprint === fingerprint) return checkpoint;
    io.print("ignoring a checkpoint from different inputs (params, dataset or base model changed); starting afresh");
  } catch (err) {
    io.print(`ignoring an unreadable checkpoint (${describeError(err)}); starting afresh`);
  }
  return null;
}

/** Write then rename: a kill mid-write leaves the previous file, never half a checkpoint. */
async function writeAtomically(path: string, content: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, content);
  await rename(tmp, path);
}

async function main(): Promise<void> {
  try {
    await runBaselineTrainer(process.env, { codec: sharpCodec, print: (line) => process.stdout.write(`${line}\n`), now: () => new Date() });
  } catch (err) {
    process.stderr.write(`baseline trainer failed: ${describeError(err, 2000)}\n`);
    if (!(err instanceof PermanentError) && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    // The training job contract: 2 = bad input (permanent), any other non-zero = may not recur.
    process.exitCode = err instanceof PermanentError ? TRAINER_EXIT_BAD_INPUT : 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
