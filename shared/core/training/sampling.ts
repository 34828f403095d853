import type { SeededRng } from "./rng.ts";
import type { TrainingSet } from "./fit.ts";

/**
 * Turning labelled images into a per-pixel training set: which pixels to learn from (class-
 * balanced-ish, seeded, nodata excluded), how features are scaled, and how a share of them is
 * held out so the trainer can report its own accuracy.
 */
export interface LabelledImage {
  width: number;
  height: number;
  /** One plane per input channel, 0–255 samples, row-major. */
  planes: Uint8Array[];
  /** Class id per pixel; `ignoreValue` marks pixels to leave out (nodata). */
  labels: Uint8Array;
}

export interface SampleOptions {
  samplesPerImage: number;
  numClasses: number;
  /**
   * 0 samples classes in proportion to their pixel counts, 1 equally; in between, each class gets
   * a share ∝ count^(1 − power). 0.5 keeps small classes (shadow, thin cloud) visible without
   * teaching the model that they are as common as land.
   */
  balancePower: number;
  ignoreValue: number;
}

/** The factor that maps a 0–255 sample to the 0–1 range the model card's normalisation expects. */
export const PIXEL_SCALE = 1 / 255;

/** Draws up to `samplesPerImage` labelled pixels; features are scaled to 0–1, rows in draw order. */
export function samplePixels(image: LabelledImage, options: SampleOptions, rng: SeededRng): TrainingSet {
  const pixelCount = image.width * image.height;
  if (image.labels.length !== pixelCount) throw new Error(`labels hold ${image.labels.length} pixels, image is ${image.width}×${image.height}`);
  for (const plane of image.planes) {
    if (plane.length !== pixelCount) throw new Error(`a channel plane holds ${plane.length} pixels, image is ${image.width}×${image.height}`);
  }
  const byClass: number[][] = Array.from({ length: options.numClasses }, () => []);
  for (let p = 0; p < pixelCount; p++) {
    const label = image.labels[p]!;
    if (label === options.ignoreValue) continue;
    if (label >= options.numClasses) throw new Error(`label ${label} at pixel ${p} is outside 0–${options.numClasses - 1}`);
    byClass[label]!.push(p);
  }
  const quotas = classQuotas(byClass.map((list) => list.length), options.samplesPerImage, options.balancePower);
  const chosen: number[] = [];
  const labels: number[] = [];
  byClass.forEach((pixels, classId) => {
    const take = quotas[classId]!;
    // Partial Fisher–Yates: the first `take` entries become a uniform sample without replacement.
    for (let k = 0; k < take; k++) {
      const j = k + rng.int(pixels.length - k);
      const tmp = pixels[k]!;
      pixels[k] = pixels[j]!;
      pixels[j] = tmp;
      chosen.push(pixels[k]!);
      labels.push(classId);
    }
  });
  const channels = image.planes.length;
  const x = new Float64Array(chosen.length * channels);
  chosen.forEach((p, row) => {
    for (let c = 0; c < channels; c++) x[row * channels + c] = image.planes[c]![p]! * PIXEL_SCALE;
  });
  return { x, y: Uint8Array.from(labels), count: chosen.length };
}

/** How many pixels to draw from each class, never more than it has. */
export function classQuotas(counts: readonly number[], total: number, balancePower: number): number[] {
  const weights = counts.map((n) => (n > 0 ? n ** (1 - balancePower) : 0));
  const sum = weights.reduce((a, b) => a + b, 0);
  if (sum === 0) return counts.map(() => 0);
  return counts.map((n, c) => Math.min(n, Math.round((total * weights[c]!) / sum)));
}

export function concatSets(sets: readonly TrainingSet[], inputs: number): TrainingSet {
  const count = sets.reduce((a, s) => a + s.count, 0);
  const x = new Float64Array(count * inputs);
  const y = new Uint8Array(count);
  let row = 0;
  for (const s of sets) {
    x.set(s.x.subarray(0, s.count * inputs), row * inputs);
    y.set(s.y.subarray(0, s.count), row);
    row += s.count;
  }
  return { x, y, count };
}

/** Shuffles the rows and splits off `fraction` of them (at least one row when there are two or more). */
export function splitHoldout(set: TrainingSet, inputs: number, fraction: number, rng: SeededRng): { train: TrainingSet; holdout: TrainingSet } {
  const order = rng.shuffle(Int32Array.from({ length: set.count }, (_, k) => k));
  const held = fraction <= 0 || set.count < 2 ? 0 : Math.min(set.count - 1, Math.max(1, Math.round(set.count * fraction)));
  const pick = (rows: Int32Array): TrainingSet => {
    const x = new Float64Array(rows.length * inputs);
    const y = new Uint8Array(rows.length);
    rows.forEach((r, k) => {
      x.set(set.x.subarray(r * inputs, (r + 1) * inputs), k * inputs);
      y[k] = set.y[r]!;
    });
    return { x, y, count: rows.length };
  };
  return { train: pick(order.subarray(held)), holdout: pick(order.subarray(0, held)) };
}

export interface ChannelStats {
  mean: number[];
  std: number[];
}

/** Per-channel mean and (population) standard deviation, floored so a flat channel cannot divide by 0. */
export function channelStats(set: TrainingSet, inputs: number, minStd = 1e-3): ChannelStats {
  const mean = new Array<number>(inputs).fill(0);
  const sq = new Array<number>(inputs).fill(0);
  for (let r = 0; r < set.count; r++) {
    for (let c = 0; c < inputs; c++) mean[c]! += set.x[r * inputs + c]!;
  }
  for (let c = 0; c < inputs; c++) mean[c] = set.count ? mean[c]! / set.count : 0;
  for (let r = 0; r < set.count; r++) {
    for (let c = 0; c < inputs; c++) sq[c]! += (set.x[r * inputs + c]! - mean[c]!) ** 2;
  }
  const std = sq.map((s) => Math.max(minStd, Math.sqrt(set.count ? s / set.count : 0)));
  return { mean, std };
}

/** (x − mean) / std per channel, in place — what the model card's normalisation tells consumers to do. */
export function standardise(set: TrainingSet, inputs: number, stats: ChannelStats): void {
  for (let r = 0; r < set.count; r++) {
    for (let c = 0; c < inputs; c++) {
      const k = r * inputs + c;
      set.x[k] = (set.x[k]! - stats.mean[c]!) / stats.std[c]!;
    }
  }
}
