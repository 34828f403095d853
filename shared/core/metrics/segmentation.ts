import { PermanentError } from "../../errors.ts";

/**
 * Dataset-level semantic segmentation metrics, the way mmsegmentation's `IoUMetric` computes them
 * (`intersect_and_union`, `total_area_to_metrics` in mmseg/evaluation/metrics/iou_metric.py): one
 * confusion matrix is accumulated over every pixel of every image, and all metrics derive from it
 * (not a mean of per-image IoUs).
 *
 * - Pixels whose ground truth equals the ignore index (nodata) are skipped.
 * - A prediction outside `0..K-1` (a label the model should not emit, or a model class the dataset
 *   does not know) is **counted as wrong**: it adds to the ground-truth class's label count (so it
 *   lowers that class's recall and IoU) and to the pixel total (so it lowers pixel accuracy), but
 *   belongs to no predicted class. Rejecting the image instead would let a broken model look good.
 * - A ground-truth value ≥ K that is not the ignore index is bad input: PermanentError.
 */
export interface SegmentationConfusion {
  readonly numClasses: number;
  /** K×K pixel counts, row-major: row = ground-truth class, column = predicted class. */
  readonly matrix: Float64Array;
  /** Per ground-truth class: pixels whose prediction was outside 0..K-1. */
  readonly outOfRange: Float64Array;
}

/** Integer label rasters a model may output (int64 outputs are narrowed by the runtime adapter). */
export type LabelArray = Int32Array | Uint8Array | Uint16Array | Uint32Array | Int16Array | Int8Array;

export interface AccumulateOptions {
  /** Ground-truth value that marks pixels to skip (nodata). */
  ignoreIndex: number;
  /**
   * Maps a model output value to a class index of the confusion matrix; -1 (or a value beyond the
   * table) means "no such class" and is counted as wrong. Identity when absent.
   */
  classMap?: Int32Array;
}

/** A rectangle of an image, in pixels. */
export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

export function createSegmentationConfusion(numClasses: number): SegmentationConfusion {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`numClasses must be a positive integer, got ${numClasses}`);
  return { numClasses, matrix: new Float64Array(numClasses * numClasses), outOfRange: new Float64Array(numClasses) };
}

/** Accumulates whole label images: `gt` and `pred` are row-major rasters of the same length. */
export function accumulateLabels(
  cm: SegmentationConfusion,
  gt: Uint8Array,
  pred: LabelArray,
  options: AccumulateOptions,
): void {
  if (gt.length !== pred.length) throw new Error(`ground truth has ${gt.length} pixels, prediction ${pred.length}`);
  accumulateRegion(cm, gt, gt.length, { x: 0, y: 0, width: gt.length, height: 1 }, pred, 0, gt.length, options);
}

/**
 * Accumulates one tile: `region` of the ground-truth raster (row stride `gtWidth`) against the
 * prediction rows starting at `predOffset` with row stride `predWidth` (a tile's output may be
 * wider than the region when the tile was padded).
 *
 * This is the evaluator's hot loop: pixels are counted into a small integer table indexed by
 * (ground-truth byte, column), with one extra column for out-of-range predictions, so the inner
 * loop has no branch at all; the table is folded into the matrix once per call.
 */
export function accumulateRegion(
  cm: SegmentationConfusion,
  gt: Uint8Array,
  gtWidth: number,
  region: Region,
  pred: LabelArray,
  predOffset: number,
  predWidth: number,
  options: AccumulateOptions,
): void {
  const k = cm.numClasses;
  const cols = k + 1;
  const lut = columnLut(options.classMap, k);
  const lutLength = lut.length;
  const counts = new Uint32Array(256 * cols);
  for (let row = 0; row < region.height; row++) {
    let g = (region.y + row) * gtWidth + region.x;
    let p = predOffset + row * predWidth;
    const end = g + region.width;
    for (; g < end; g++, p++) {
      const value = pred[p]!;
      // `>>> 0` turns negative values into huge ones, so one comparison bounds both ends.
      counts[gt[g]! * cols + (value >>> 0 < lutLength ? lut[value]! : k)]! += 1;
    }
  }
  foldCounts(cm, counts, options.ignoreIndex);
}

/**
 * Accumulates one tile straight from logits: `logits` holds C planes of `planeWidth × planeHeight`
 * starting at `offset` (one image of an [N,C,H,W] batch); the argmax of each pixel of `region`'s
 * size is counted without materialising a label raster. A NaN logit counts as −∞ (it never wins;
 * ties, all-NaN pixels included, go to the lowest channel), as in the argmax the ONNX adapter
 * fuses into the graph (shared/adapters/onnx/runtime.ts).
 */
export function accumulateLogitsRegion(
  cm: SegmentationConfusion,
  gt: Uint8Array,
  gtWidth: number,
  region: Region,
  logits: Float32Array,
  offset: number,
  channels: number,
  planeWidth: number,
  planeHeight: number,
  options: AccumulateOptions,
): void {
  const k = cm.numClasses;
  const cols = k + 1;
  const lut = columnLut(options.classMap, k);
  const lutLength = lut.length;
  const counts = new Uint32Array(256 * cols);
  const plane = planeWidth * planeHeight;
  const width = region.width;
  // Per row: scan each channel plane sequentially (contiguous reads, a tight loop the JIT likes)
  // keeping the running maximum and its channel, then count against the ground truth.
  const best = new Float32Array(width);
  const arg = new Uint16Array(width);
  for (let row = 0; row < region.height; row++) {
    const g0 = (region.y + row) * gtWidth + region.x;
    const p0 = offset + row * planeWidth;
    seedBest(best, logits, p0, width);
    arg.fill(0);
    for (let c = 1; c < channels; c++) {
      const q0 = p0 + c * plane;
      for (let x = 0; x < width; x++) {
        const v = logits[q0 + x]!;
        // NaN > b is false: a NaN never replaces the best, as −∞ would not.
        if (v > best[x]!) {
          best[x] = v;
          arg[x] = c;
        }
      }
    }
    for (let x = 0; x < width; x++) {
      const a = arg[x]!;
      counts[gt[g0 + x]! * cols + (a < lutLength ? lut[a]! : k)]! += 1;
    }
  }
  foldCounts(cm, counts, options.ignoreIndex);
}

/** Adds a (ground-truth byte × column) count table to the matrix; rows ≥ K must be the ignore row. */
function foldCounts(cm: SegmentationConfusion, counts: Uint32Array, ignore: number): void {
  const k = cm.numClasses;
  const cols = k + 1;
  for (let truth = 0; truth < 256; truth++) {
    if (truth === ignore) continue;
    const base = truth * cols;
    if (truth >= k) {
      for (let c = 0; c < cols; c++) if (counts[base + c]! > 0) throw badTruth(truth, k, ignore);
      continue;
    }
    for (let c = 0; c < k; c++) cm.matrix[truth * k + c]! += counts[base + c]!;
    cm.outOfRange[truth]! += counts[base + k]!;
  }
}

/**
 * Argmax over the channel axis of logits `[N,C,H,W]` (NaN counts as −∞; ties → lowest channel).
 * Walks each channel plane sequentially, which is far faster than striding across channels per
 * pixel. Returns N×H×W channel indexes.
 */
export function argmaxChannels(logits: Float32Array, dims: readonly number[], out?: Int32Array): Int32Array {
  if (dims.length !== 4) throw new Error(`logits must be [N,C,H,W], got [${dims.join(",")}]`);
  const [n, c, h, w] = dims as [number, number, number, number];
  const plane = h * w;
  if (logits.length !== n * c * plane) throw new Error(`logits hold ${logits.length} values, dims [${dims.join(",")}] need ${n * c * plane}`);
  const labels = out ?? new Int32Array(n * plane);
  if (labels.length < n * plane) throw new Error("argmax output buffer is too small");
  const best = new Float32Array(plane);
  for (let b = 0; b < n; b++) {
    const base = b * c * plane;
    const outBase = b * plane;
    seedBest(best, logits, base, plane);
    labels.fill(0, outBase, outBase + plane);
    for (let ch = 1; ch < c; ch++) {
      const off = base + ch * plane;
      for (let i = 0; i < plane; i++) {
        const v = logits[off + i]!;
        if (v > best[i]!) {
          best[i] = v;
          labels[outBase + i] = ch;
        }
      }
    }
  }
  return labels;
}

/** Starts a running maximum from channel 0, with NaN read as −∞ (so a later −∞ ties, not wins). */
function seedBest(best: Float32Array, logits: Float32Array, offset: number, length: number): void {
  best.set(logits.subarray(offset, offset + length));
  for (let i = 0; i < length; i++) if (best[i] !== best[i]) best[i] = -Infinity;
}

/** Accumulates logits `[N,C,H,W]` against N ground-truth rasters of H×W laid end to end. */
export function accumulateLogits(
  cm: SegmentationConfusion,
  logits: Float32Array,
  dims: readonly number[],
  gt: Uint8Array,
  options: AccumulateOptions,
): void {
  if (dims.length !== 4) throw new Error(`logits must be [N,C,H,W], got [${dims.join(",")}]`);
  const [n, c, h, w] = dims as [number, number, number, number];
  if (logits.length !== n * c * h * w) throw new Error(`logits hold ${logits.length} values, dims [${dims.join(",")}] need ${n * c * h * w}`);
  if (gt.length !== n * h * w) throw new Error(`ground truth has ${gt.length} pixels, logits ${n * h * w}`);
  // N images of H×W stacked vertically form one (N·H)×W ground-truth raster.
  for (let b = 0; b < n; b++) {
    accumulateLogitsRegion(cm, gt, w, { x: 0, y: b * h, width: w, height: h }, logits, b * c * h * w, c, w, h, options);
  }
}

/** Merges `other` into `into` (same K), e.g. per-worker matrices. */
export function mergeSegmentationConfusion(into: SegmentationConfusion, other: SegmentationConfusion): void {
  if (into.numClasses !== other.numClasses) throw new Error("cannot merge confusion matrices of different sizes");
  for (let i = 0; i < into.matrix.length; i++) into.matrix[i]! += other.matrix[i]!;
  for (let i = 0; i < into.outOfRange.length; i++) into.outOfRange[i]! += other.outOfRange[i]!;
}

export interface SegmentationClassMetrics {
  /** intersect / union; null when the class is absent from both ground truth and prediction. */
  iou: number | null;
  /** Class recall (mmseg "Acc"): intersect / label; null when the class has no ground-truth pixel. */
  accuracy: number | null;
  /** 2·intersect / (pred + label); null when both are 0. */
  dice: number | null;
  /** Ground-truth pixels of the class (label count, including out-of-range predictions). */
  support: number;
  /** Pixels predicted as the class. */
  predicted: number;
  intersection: number;
}

export interface SegmentationMetrics {
  /** Mean IoU over the selected classes whose union is > 0 (nan-mean); null when none qualifies. */
  mIoU: number | null;
  /** trace / all non-ignored pixels. */
  pixelAccuracy: number | null;
  /** nan-mean of class recall over the selected classes. */
  meanAccuracy: number | null;
  /** nan-mean of Dice over the selected classes. */
  mDice: number | null;
  /** Indexed like the confusion matrix. */
  perClass: SegmentationClassMetrics[];
  /** Non-ignored pixels counted. */
  totalPixels: number;
}

/**
 * Metrics from an accumulated confusion matrix. `meanOver` restricts the means to some classes
 * (a model's own classes when the dataset knows more); per-class values cover every class.
 */
export function segmentationMetrics(cm: SegmentationConfusion, meanOver?: readonly number[]): SegmentationMetrics {
  const k = cm.numClasses;
  const predicted = new Float64Array(k);
  const label = new Float64Array(k);
  let trace = 0;
  let total = 0;
  for (let g = 0; g < k; g++) {
    let rowSum = cm.outOfRange[g]!;
    for (let p = 0; p < k; p++) {
      const v = cm.matrix[g * k + p]!;
      rowSum += v;
      predicted[p]! += v;
    }
    label[g] = rowSum;
    trace += cm.matrix[g * k + g]!;
    total += rowSum;
  }
  const perClass: SegmentationClassMetrics[] = [];
  for (let c = 0; c < k; c++) {
    const inter = cm.matrix[c * k + c]!;
    const pred = predicted[c]!;
    const lab = label[c]!;
    const union = pred + lab - inter;
    perClass.push({
      iou: union > 0 ? inter / union : null,
      accuracy: lab > 0 ? inter / lab : null,
      dice: pred + lab > 0 ? (2 * inter) / (pred + lab) : null,
      support: lab,
      predicted: pred,
      intersection: inter,
    });
  }
  const selected = meanOver ?? perClass.map((_, i) => i);
  const pick = (key: "iou" | "accuracy" | "dice") => nanMean(selected.map((c) => perClass[c]?.[key] ?? null));
  return {
    mIoU: pick("iou"),
    pixelAccuracy: total > 0 ? trace / total : null,
    meanAccuracy: pick("accuracy"),
    mDice: pick("dice"),
    perClass,
    totalPixels: total,
  };
}

/** Mean of the non-null values; null when there are none. */
export function nanMean(values: readonly (number | null)[]): number | null {
  let sum = 0;
  let n = 0;
  for (const v of values) {
    if (v !== null && !Number.isNaN(v)) {
      sum += v;
      n++;
    }
  }
  return n > 0 ? sum / n : null;
}

const identityLuts = new Map<number, Int32Array>();

/**
 * Model output value → matrix column: the class map's target when it is a class, else column K
 * (out of range). Identity for the first K values when there is no class map.
 */
function columnLut(classMap: Int32Array | undefined, k: number): Int32Array {
  if (!classMap) {
    let lut = identityLuts.get(k);
    if (!lut) {
      lut = Int32Array.from({ length: k }, (_, i) => i);
      identityLuts.set(k, lut);
    }
    return lut;
  }
  return Int32Array.from(classMap, (m) => (m >= 0 && m < k ? m : k));
}

function badTruth(value: number, k: number, ignore: number): PermanentError {
  return new PermanentError(
    "bad_ground_truth",
    `ground-truth raster holds class ${value}, but there are only ${k} classes (0–${k - 1}) and the ignore index is ${ignore}`,
  );
}
