/**
 * The pieces of the active-learning simulation (bench/active-learning.bench.ts): the demo's scenes
 * as the 8-bit planes a model sees, the baseline trainer's per-pixel MLP trained on a labelled set
 * exactly as the baseline trainer trains it (class-balanced pixel samples, standardised, Adam), and
 * the product's own priority score (shared/core/prelabel/priority.ts) on the model's softmax.
 */
import { generateScene } from "../../shared/core/demo/scenes.ts";
import { bandStatistics, imageFeatures } from "../../shared/core/drift/stats.ts";
import { accumulateLabels, createSegmentationConfusion, segmentationMetrics } from "../../shared/core/metrics/segmentation.ts";
import { boundaryDensity, confidenceInto, meanConfidence, noveltyOf, priorityOf, type PriorityWeights } from "../../shared/core/prelabel/priority.ts";
import { createTrainingState, fit } from "../../shared/core/training/fit.ts";
import { forward, type MlpShape } from "../../shared/core/training/mlp.ts";
import { SeededRng, deriveSeed } from "../../shared/core/training/rng.ts";
import { channelStats, concatSets, samplePixels, standardise, type ChannelStats } from "../../shared/core/training/sampling.ts";

/** The default ontology's classes; Fill (0) is nodata, ignored in training and scoring. */
export const CLASSES = ["Fill", "Clear", "Cloud", "Thin_Cloud", "Cloud_Shadow"];
export const IGNORE = 255;
/** mIoU over the classes annotators draw (not Fill). */
const SCORED = [1, 2, 3, 4];

export interface SimImage {
  width: number;
  height: number;
  /** red, green, blue, nir, 0–255 (what ingest's renderings hold, without the percentile stretch). */
  planes: Uint8Array[];
  /** Class id per pixel, IGNORE where nodata. */
  labels: Uint8Array;
  validPixels: number;
  /** Drift features of the image (for novelty). */
  features: Record<string, number>;
}

/** A demo scene (seeded; cloudiness varies per scene as real passes do). */
export function simImage(seed: number, size: number): SimImage {
  const rng = new SeededRng(deriveSeed(seed, "cloudiness"));
  const scene = generateScene({ seed, width: size, height: size, cloudiness: 0.05 + rng.next() * 0.65 });
  const n = size * size;
  const toByte = (band: Float32Array) => Uint8Array.from(band, (v) => (Number.isNaN(v) ? 0 : Math.max(0, Math.min(255, Math.round((v / 0.9) * 255)))));
  const planes = [toByte(scene.bands.red), toByte(scene.bands.green), toByte(scene.bands.blue), toByte(scene.bands.nir)];
  const labels = new Uint8Array(n);
  const nodata = new Uint8Array(n);
  let valid = 0;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(scene.bands.red[i]!)) {
      labels[i] = IGNORE;
      nodata[i] = 255;
    } else {
      labels[i] = scene.groundTruth[i]!;
      valid++;
    }
  }
  const names = ["red", "green", "blue", "nir"] as const;
  const bands = Object.fromEntries(names.map((name, c) => [name, bandStatistics(planes[c]!, 1, 0, n, nodata)]));
  return { width: size, height: size, planes, labels, validPixels: valid, features: imageFeatures(bands, 1 - valid / n) };
}

export interface TrainOptions {
  hidden: number;
  samplesPerImage: number;
  epochs: number;
  seed: number;
}

export interface SimModel {
  shape: MlpShape;
  weights: Float64Array;
  normalisation: ChannelStats;
  /** Features of the images it was trained on (the drift reference). */
  reference: Record<string, number>[];
}

/** Trains the baseline MLP on `images` (the labelled set), as the baseline trainer does. */
export async function train(images: readonly SimImage[], o: TrainOptions): Promise<SimModel> {
  const shape: MlpShape = { inputs: 4, hidden: o.hidden, classes: CLASSES.length };
  const sets = images.map((image, k) => samplePixels(image, { samplesPerImage: o.samplesPerImage, numClasses: CLASSES.length, balancePower: 0.5, ignoreValue: IGNORE }, new SeededRng(deriveSeed(o.seed, `sample:${k}`))));
  const set = concatSets(sets, shape.inputs);
  const normalisation = channelStats(set, shape.inputs);
  standardise(set, shape.inputs, normalisation);
  const state = createTrainingState(shape, o.seed);
  await fit(state, set, { epochs: o.epochs, batchSize: 256, learningRate: 0.01 });
  return { shape, weights: state.weights, normalisation, reference: images.map((i) => i.features) };
}

/** The model's logits for every pixel, as C planes (the layout the serving code reads). */
function logitPlanes(model: SimModel, image: SimImage): Float32Array {
  const n = image.width * image.height;
  const x = new Float64Array(n * 4);
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 4; c++) x[p * 4 + c] = (image.planes[c]![p]! / 255 - model.normalisation.mean[c]!) / model.normalisation.std[c]!;
  }
  const rows = forward(model.shape, model.weights, x, n);
  const classes = model.shape.classes;
  const planes = new Float32Array(classes * n);
  for (let p = 0; p < n; p++) for (let c = 0; c < classes; c++) planes[c * n + p] = rows[p * classes + c]!;
  return planes;
}

/** The model's mask (IGNORE where nodata) and its logit planes. */
function predictMask(model: SimModel, image: SimImage): { mask: Uint8Array; logits: Float32Array } {
  const n = image.width * image.height;
  const classes = model.shape.classes;
  const logits = logitPlanes(model, image);
  const mask = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    if (image.labels[p] === IGNORE) {
      mask[p] = IGNORE;
      continue;
    }
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[c * n + p]! > logits[best * n + p]!) best = c;
    mask[p] = best;
  }
  return { mask, logits };
}

/** The model's mask and the product's priority of the image (shared/core/prelabel/priority.ts). */
export function predictAndScore(model: SimModel, image: SimImage, weights: PriorityWeights): { mask: Uint8Array; priority: number } {
  const { width, height } = image;
  const n = width * height;
  const classes = model.shape.classes;
  const { mask, logits } = predictMask(model, image);
  const entropy = new Float32Array(n);
  const margin = new Float32Array(n);
  confidenceInto(entropy, margin, width, { x: 0, y: 0, width, height }, logits, classes, width, height);
  const confidence = meanConfidence(entropy, margin, mask, classes);
  const priority = priorityOf({
    uncertainty: confidence?.meanEntropy ?? null,
    boundary: boundaryDensity(mask, width, height, classes),
    novelty: noveltyOf(image.features, model.reference),
  }, weights);
  return { mask, priority: priority.score };
}

/** mIoU over the drawn classes on the held-out images. */
export function meanIoU(model: SimModel, images: readonly SimImage[]): number {
  const cm = createSegmentationConfusion(CLASSES.length);
  for (const image of images) {
    const { mask } = predictMask(model, image);
    accumulateLabels(cm, image.labels, mask, { ignoreIndex: IGNORE });
  }
  return segmentationMetrics(cm, SCORED).mIoU ?? 0;
}

/** The model's mask alone (the pre-label). */
export function prelabelOf(model: SimModel, image: SimImage): Uint8Array {
  return predictMask(model, image).mask;
}

/** Valid pixels whose pre-label differs from the truth: what an annotator must repaint. */
export function pixelsToFix(mask: Uint8Array, image: SimImage): number {
  let wrong = 0;
  for (let p = 0; p < mask.length; p++) if (image.labels[p] !== IGNORE && mask[p] !== image.labels[p]) wrong++;
  return wrong;
}
