import type { CocoDetectionResult } from "./coco-types.ts";

/**
 * Turning detection model outputs into boxes: YOLO raw heads (decode + class-wise NMS, the way
 * Ultralytics' `non_max_suppression` does for single-label output) and post-NMS `[N, K, 6]` tensors.
 * Boxes stay in model (letterboxed) pixels; `unletterboxBox` maps them back to the source image.
 */

export interface Detection {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
  classId: number;
}

export interface YoloDecodeOptions {
  /**
   * Keep an anchor when its best class score is ≥ this (Ultralytics compares with `>`). Scores are
   * probabilities: a negative threshold counts as 0.
   */
  scoreThreshold: number;
  /** A box is suppressed when its IoU with a kept box of the same class is > this. */
  iouThreshold: number;
  /** Detections kept per image, highest scores first. */
  maxDetections: number;
  /** Suppress across classes too (Ultralytics `agnostic=True`). Default false. */
  classAgnostic?: boolean;
}

// Candidate keys pack (score bits, anchor) into one double so plain numeric comparisons order
// them: non-negative float32 scores order like their bit patterns, and 2^31 · 2^21 < 2^53 stays
// exact. Equal scores: the lower anchor gets the larger key, so it comes out of the heap first.
const ANCHOR_SLOTS = 2 ** 21;

function checkDims(output: Float32Array, dims: readonly number[], rank: number, what: string): void {
  if (dims.length !== rank || !dims.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new RangeError(`${what}: dims must be ${rank} non-negative integers, got [${dims.join(", ")}]`);
  }
  const size = dims.reduce((a, b) => a * b, 1);
  if (output.length < size) throw new RangeError(`${what}: output holds ${output.length} values, dims [${dims.join(", ")}] need ${size}`);
}

/**
 * Decodes a raw YOLO head `[N, 4 + C, A]` (cx, cy, w, h, then C class scores per anchor, as
 * exported by Ultralytics v8/11). Single label: each anchor contributes only its best class
 * (lowest class id on ties), like `non_max_suppression(multi_label=False)`. Then greedy NMS per
 * class in score order (ties: lower anchor first) and the top `maxDetections`.
 *
 * Work is proportional to what survives: one branch-free pass takes each anchor's best score, a
 * heap (built in O(A)) hands out candidates best first, and the class and box of an anchor are
 * only read once it comes out — usually a few hundred of the 8,400.
 */
export function decodeYoloRaw(output: Float32Array, dims: readonly [number, number, number], options: YoloDecodeOptions): Detection[][] {
  checkDims(output, dims, 3, "decodeYoloRaw");
  const [batch, channels, anchors] = dims;
  const classes = channels - 4;
  if (classes < 1) throw new RangeError(`decodeYoloRaw: expected 4 + C channels with C ≥ 1, got ${channels}`);
  if (anchors >= ANCHOR_SLOTS) throw new RangeError(`decodeYoloRaw: at most ${ANCHOR_SLOTS - 1} anchors are supported, got ${anchors}`);
  const threshold = Math.max(0, options.scoreThreshold);
  const maxDetections = Math.max(0, Math.floor(options.maxDetections));

  const bestScore = new Float32Array(anchors);
  const bestBits = new Uint32Array(bestScore.buffer);
  const heap = new Float64Array(anchors);
  const kept = new Float64Array(maxDetections * 4);
  // Kept detections of one class form a linked list: NMS compares only within it.
  const groups = options.classAgnostic ? 1 : classes;
  const groupHead = new Int32Array(groups);
  const nextInGroup = new Int32Array(maxDetections);
  const results: Detection[][] = [];

  for (let n = 0; n < batch; n++) {
    const base = n * channels * anchors;
    const scoresBase = base + 4 * anchors;
    // Class rows are contiguous over anchors: take the row-wise maximum, four rows at a time.
    bestScore.set(output.subarray(scoresBase, scoresBase + anchors));
    let c = 1;
    for (; c + 3 < classes; c += 4) {
      const r0 = scoresBase + c * anchors, r1 = r0 + anchors, r2 = r1 + anchors, r3 = r2 + anchors;
      for (let a = 0; a < anchors; a++) {
        bestScore[a] = Math.max(bestScore[a]!, output[r0 + a]!, output[r1 + a]!, output[r2 + a]!, output[r3 + a]!);
      }
    }
    for (; c < classes; c++) {
      const row = scoresBase + c * anchors;
      for (let a = 0; a < anchors; a++) bestScore[a] = Math.max(bestScore[a]!, output[row + a]!);
    }

    // Math.max propagates NaN: an anchor holding a NaN class score is rescanned with NaN read as
    // −∞, so it keeps its best real score (a NaN never wins an argmax, here as everywhere).
    for (let a = 0; a < anchors; a++) {
      if (bestScore[a] === bestScore[a]) continue;
      let best = -Infinity;
      for (let k = 0; k < classes; k++) {
        const v = output[scoresBase + k * anchors + a]!;
        if (v > best) best = v;
      }
      bestScore[a] = best;
    }

    let size = 0;
    for (let a = 0; a < anchors; a++) {
      const s = bestScore[a]!;
      if (!(s >= threshold)) continue; // also drops NaN
      // s === 0 covers −0, whose sign bit would otherwise make it the largest key.
      heap[size++] = (s === 0 ? 0 : bestBits[a]!) * ANCHOR_SLOTS + (ANCHOR_SLOTS - 1 - a);
    }
    for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(heap, i, size);

    groupHead.fill(-1);
    const detections: Detection[] = [];
    while (size > 0 && detections.length < maxDetections) {
      const key = heap[0]!;
      heap[0] = heap[--size]!;
      siftDown(heap, 0, size);
      const a = ANCHOR_SLOTS - 1 - (key % ANCHOR_SLOTS);
      const score = bestScore[a]!;
      // The best class is the first one holding the best score (Math.max returned one of them).
      let classId = 0;
      while (classId < classes - 1 && output[scoresBase + classId * anchors + a] !== score) classId++;
      const cx = output[base + a]!, cy = output[base + anchors + a]!;
      const halfW = output[base + 2 * anchors + a]! / 2, halfH = output[base + 3 * anchors + a]! / 2;
      const x1 = cx - halfW, y1 = cy - halfH, x2 = cx + halfW, y2 = cy + halfH;
      const group = options.classAgnostic ? 0 : classId;
      if (overlapsKept(x1, y1, x2, y2, groupHead[group]!, nextInGroup, kept, options.iouThreshold)) continue;
      const slot = detections.length;
      kept[slot * 4] = x1;
      kept[slot * 4 + 1] = y1;
      kept[slot * 4 + 2] = x2;
      kept[slot * 4 + 3] = y2;
      nextInGroup[slot] = groupHead[group]!;
      groupHead[group] = slot;
      detections.push({ x1, y1, x2, y2, score, classId });
    }
    results.push(detections);
  }
  return results;
}

/** Max-heap repair below `i` in `heap[0, size)`. */
function siftDown(heap: Float64Array, i: number, size: number): void {
  const value = heap[i]!;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && heap[child + 1]! > heap[child]!) child++;
    if (heap[child]! <= value) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = value;
}

/** Greedy NMS test: does a kept box of the group overlap this one by IoU > threshold (torchvision `nms`)? */
function overlapsKept(
  x1: number, y1: number, x2: number, y2: number,
  head: number, next: Int32Array, kept: Float64Array, iouThreshold: number,
): boolean {
  const area = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  for (let k = head; k !== -1; k = next[k]!) {
    const kx1 = kept[k * 4]!, ky1 = kept[k * 4 + 1]!, kx2 = kept[k * 4 + 2]!, ky2 = kept[k * 4 + 3]!;
    const w = Math.min(x2, kx2) - Math.max(x1, kx1);
    if (w <= 0) continue;
    const h = Math.min(y2, ky2) - Math.max(y1, ky1);
    if (h <= 0) continue;
    const intersection = w * h;
    const union = area + Math.max(0, kx2 - kx1) * Math.max(0, ky2 - ky1) - intersection;
    if (union > 0 && intersection / union > iouThreshold) return true;
  }
  return false;
}

/**
 * Reads a post-NMS output `[N, K, 6]` (x1, y1, x2, y2, score, class per row). Rows scoring below
 * `scoreThreshold`, all-zero padding rows, rows with a negative class (some exporters pad with −1)
 * and rows holding non-finite values are dropped; the rest keep their order.
 */
export function parseNmsOutput(output: Float32Array, dims: readonly [number, number, number], options: { scoreThreshold: number }): Detection[][] {
  checkDims(output, dims, 3, "parseNmsOutput");
  const [batch, rows, width] = dims;
  if (width !== 6) throw new RangeError(`parseNmsOutput: rows must hold 6 values (x1, y1, x2, y2, score, class), got ${width}`);
  const results: Detection[][] = [];
  for (let n = 0; n < batch; n++) {
    const detections: Detection[] = [];
    for (let r = 0; r < rows; r++) {
      const at = (n * rows + r) * 6;
      const row = output.subarray(at, at + 6);
      if (!row.every(Number.isFinite) || row.every((v) => v === 0)) continue;
      const score = row[4]!;
      const classId = Math.round(row[5]!);
      if (score < options.scoreThreshold || classId < 0) continue;
      detections.push({ x1: row[0]!, y1: row[1]!, x2: row[2]!, y2: row[3]!, score, classId });
    }
    results.push(detections);
  }
  return results;
}

/**
 * COCO results for one image: xyxy → [x, y, w, h]. `categoryIdOf` maps a model class id to the
 * dataset's category id; classes it does not know (undefined) are left out.
 */
export function toCocoResults(
  detections: readonly Detection[],
  imageId: number,
  categoryIdOf: (classId: number) => number | undefined,
): CocoDetectionResult[] {
  const results: CocoDetectionResult[] = [];
  for (const d of detections) {
    const categoryId = categoryIdOf(d.classId);
    if (categoryId === undefined) continue;
    results.push({
      image_id: imageId,
      category_id: categoryId,
      bbox: [d.x1, d.y1, Math.max(0, d.x2 - d.x1), Math.max(0, d.y2 - d.y1)],
      score: d.score,
    });
  }
  return results;
}
