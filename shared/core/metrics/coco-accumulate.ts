import type { CocoParams, ImageEvaluation } from "./coco-evaluate-images.ts";
import { sortIndicesByScoreDesc } from "./coco-sort.ts";

/** `np.spacing(1)`: the ε COCOeval adds to the precision denominator. */
const SPACING_OF_ONE = Number.EPSILON;

/** COCOeval's `eval` dictionary: −1 marks cells without non-ignored ground truth. */
export interface CocoAccumulation {
  /** Shape [T, R, K, A, M], row-major. */
  precision: Float64Array;
  /** Shape [T, K, A, M], row-major. */
  recall: Float64Array;
  counts: { T: number; R: number; K: number; A: number; M: number };
}

/**
 * `COCOeval.accumulate()`.
 *
 * Per (category, area, maxDet, threshold) COCOeval builds cumulative TP/FP over the score-sorted
 * detections, takes the precision envelope from the right and reads it at
 * `searchsorted(recall, r, 'left')`. Recall only rises at a true positive, so every lookup for
 * r > 0 lands on a TP position, and for r = 0 on index 0, whose envelope is the maximum overall.
 * Precision only falls after a false positive, so the envelope at a TP position is the maximum
 * over later TP positions. Hence only the TP events matter: we record the FP count at each, and
 * compute recall = tp / npig and precision = tp / (fp + tp + ε) there with COCOeval's own
 * floating-point operations, which keeps the results bit-identical while skipping the divisions
 * at every other position.
 */
export function accumulate(evaluation: ImageEvaluation, params: CocoParams): CocoAccumulation {
  const T = params.iouThrs.length;
  const R = params.recThrs.length;
  const K = evaluation.categoryCount;
  const A = params.areaRanges.length;
  const M = params.maxDets.length;
  const AT = A * T;
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  const { truePositive, falsePositive, rank, score, nonIgnoredGt, categoryStart } = evaluation;
  const allThresholds = (1 << T) - 1;

  const total = score.length;
  const sorted = new Int32Array(total);
  const scratch = new Int32Array(total);
  const kept = new Int32Array(total);
  // False positives so far per (area, threshold): those at every threshold (most of them: one
  // count per area) plus those at some thresholds only.
  const falseAtAll = new Int32Array(A);
  const falsePositives = new Int32Array(AT);
  const truePositives = new Int32Array(AT);
  // fpAtTp[at * tpCapacity + j]: false positives seen when the (j + 1)-th true positive arrived.
  let tpCapacity = 0;
  let fpAtTp = new Int32Array(0);
  let envelope = new Float64Array(0);

  for (let k = 0; k < K; k++) {
    if (evaluation.categoryEvaluated[k] === 0) continue;
    const start = categoryStart[k]!;
    const n = categoryStart[k + 1]! - start;
    // TPs per cell are bounded by the non-ignored GT of the widest area range and by n.
    let mostGt = 0;
    for (let a = 0; a < A; a++) mostGt = Math.max(mostGt, nonIgnoredGt[k * A + a]!);
    const capacity = Math.min(mostGt, n);
    if (capacity > tpCapacity) {
      tpCapacity = capacity;
      fpAtTp = new Int32Array(AT * capacity);
      envelope = new Float64Array(capacity);
    }
    // One stable sort per category: filtering it by per-image rank afterwards gives the same
    // order as sorting each maxDet's concatenation separately (ties keep concatenation order).
    for (let i = 0; i < n; i++) sorted[i] = start + i;
    sortIndicesByScoreDesc(sorted, 0, n, score, scratch);

    for (let m = 0; m < M; m++) {
      const maxDet = params.maxDets[m]!;
      let nk = 0;
      for (let i = 0; i < n; i++) {
        const position = sorted[i]!;
        if (rank[position]! < maxDet) kept[nk++] = position;
      }
      falseAtAll.fill(0);
      falsePositives.fill(0);
      truePositives.fill(0);
      for (let i = 0; i < nk; i++) {
        const row = kept[i]! * A;
        for (let a = 0; a < A; a++) {
          const tp = truePositive[row + a]!;
          const fp = falsePositive[row + a]!;
          if (tp === 0) {
            if (fp === allThresholds) {
              falseAtAll[a]!++;
              continue;
            }
            if (fp === 0) continue; // ignored at every threshold
          }
          for (let t = 0, at = a * T; t < T; t++, at++) {
            if (fp & (1 << t)) falsePositives[at]!++;
            else if (tp & (1 << t)) fpAtTp[at * tpCapacity + truePositives[at]!++] = falseAtAll[a]! + falsePositives[at]!;
          }
        }
      }
      for (let a = 0; a < A; a++) {
        const npig = nonIgnoredGt[k * A + a]!;
        if (npig === 0) continue;
        for (let t = 0; t < T; t++) {
          const at = a * T + t;
          const tpTotal = truePositives[at]!;
          const events = at * tpCapacity;
          recall[((t * K + k) * A + a) * M + m] = tpTotal / npig;
          for (let j = 0; j < tpTotal; j++) {
            const tp = j + 1;
            envelope[j] = tp / (fpAtTp[events + j]! + tp + SPACING_OF_ONE);
          }
          for (let j = tpTotal - 1; j > 0; j--) {
            if (envelope[j]! > envelope[j - 1]!) envelope[j - 1] = envelope[j]!;
          }
          const cell = ((k * A + a) * M + m);
          const rStride = K * A * M;
          const tBase = t * R * rStride;
          // r = 0: searchsorted gives index 0, whose envelope is the overall maximum.
          precision[tBase + cell] = tpTotal > 0 ? envelope[0]! : 0;
          let j = 0;
          for (let r = 1; r < R; r++) {
            const threshold = params.recThrs[r]!;
            while (j < tpTotal && (j + 1) / npig < threshold) j++;
            precision[tBase + r * rStride + cell] = j < tpTotal ? envelope[j]! : 0;
          }
        }
      }
    }
  }
  return { precision, recall, counts: { T, R, K, A, M } };
}
