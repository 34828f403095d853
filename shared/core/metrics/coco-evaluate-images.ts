import { groupBoxes } from "./coco-groups.ts";
import type { PreparedCoco } from "./coco-prepare.ts";
import { sortIndicesByScoreDesc } from "./coco-sort.ts";

/** The evaluation parameters COCOeval reads (`Params`), after `evaluate()` normalised them. */
export interface CocoParams {
  iouThrs: Float64Array;
  recThrs: Float64Array;
  areaRanges: readonly (readonly [number, number])[];
  /** Sorted ascending; the last one caps detections per image and category. */
  maxDets: readonly number[];
  useCats: boolean;
}

/** IoU thresholds fit one 16-bit mask per (detection, area range). */
export const MAX_IOU_THRESHOLDS = 16;

/**
 * COCOeval's `evalImgs`, packed. Detections are laid out category by category, each category's
 * images in ascending id order and each image's detections in score order: exactly the
 * concatenation order `accumulate` builds before its own sort.
 */
export interface ImageEvaluation {
  /** Categories along the accumulate axis: the GT categories, or 1 when `useCats` is false. */
  categoryCount: number;
  /** Detections of category k occupy positions [categoryStart[k], categoryStart[k + 1]). */
  categoryStart: Int32Array;
  /** 1 where some image has GT or detections of the category (COCOeval's E is not empty). */
  categoryEvaluated: Uint8Array;
  score: Float64Array;
  /** Rank of the detection within its image and category (0 = highest score). */
  rank: Int32Array;
  /**
   * Outcome at [position * A + a], bit t for IoU threshold t: a true positive, a false positive,
   * or in neither mask when ignored. Two bits per cell instead of a byte: the arrays are the
   * largest the evaluation writes, and fresh memory is what a cold run pays most for.
   */
  truePositive: Uint16Array;
  falsePositive: Uint16Array;
  /** Non-ignored GT per [k * A + a] (`npig`). */
  nonIgnoredGt: Int32Array;
  /** Non-None entries of `evalImgs`. */
  evalImgsCount: number;
}

/** `COCOeval.evaluate()`: `computeIoU` and `evaluateImg` for every image × category × area range. */
export function evaluateImages(data: PreparedCoco, params: CocoParams): ImageEvaluation {
  const K = params.useCats ? data.catIds.length : 1;
  const A = params.areaRanges.length;
  const T = params.iouThrs.length;
  if (T > MAX_IOU_THRESHOLDS) throw new Error(`at most ${MAX_IOU_THRESHOLDS} IoU thresholds are supported, got ${T}`);
  const maxDet = params.maxDets[params.maxDets.length - 1]!;
  const { gt, dt } = data;
  const groups = groupBoxes(gt, dt, data.catIds.length, data.imgIds.length, params.useCats);

  const categoryStart = new Int32Array(K + 1);
  const categoryEvaluated = new Uint8Array(K);
  const out: GroupOutput = {
    score: new Float64Array(dt.count),
    rank: new Int32Array(dt.count),
    truePositive: new Uint16Array(dt.count * A),
    falsePositive: new Uint16Array(dt.count * A),
    nonIgnoredGt: new Int32Array(K * A),
  };
  const thresholds = params.iouThrs.map((t) => Math.min(t, 1 - 1e-10));
  const scratch = new GroupScratch(new Int32Array(dt.count));

  let position = 0;
  let nextCategory = 0;
  for (let group = 0; group < groups.count; group++) {
    const k = groups.category[group]!;
    // Categories without any group get an empty range.
    while (nextCategory <= k) categoryStart[nextCategory++] = position;
    categoryEvaluated[k] = 1;
    const gtFrom = groups.gtStart[group]!;
    const dtFrom = groups.dtStart[group]!;
    const dtCount = groups.dtStart[group + 1]! - dtFrom;
    // computeIoU and evaluateImg both sort by score (stable) and keep the first maxDets[-1].
    sortIndicesByScoreDesc(groups.dtOrder, dtFrom, dtCount, dt.score, scratch.sortBuffer);
    const truths = groups.gtOrder.subarray(gtFrom, groups.gtStart[group + 1]!);
    const detections = groups.dtOrder.subarray(dtFrom, dtFrom + Math.min(dtCount, maxDet));
    evaluateGroup(data, params, thresholds, k, truths, detections, position, out, scratch);
    position += detections.length;
  }
  while (nextCategory <= K) categoryStart[nextCategory++] = position;

  return {
    categoryCount: K,
    categoryStart,
    categoryEvaluated,
    score: out.score.subarray(0, position),
    rank: out.rank.subarray(0, position),
    truePositive: out.truePositive.subarray(0, position * A),
    falsePositive: out.falsePositive.subarray(0, position * A),
    nonIgnoredGt: out.nonIgnoredGt,
    evalImgsCount: groups.count * A,
  };
}

interface GroupOutput {
  score: Float64Array;
  rank: Int32Array;
  truePositive: Uint16Array;
  falsePositive: Uint16Array;
  nonIgnoredGt: Int32Array;
}

/** `evaluateImg` for one (image, category) at every area range and IoU threshold. */
function evaluateGroup(
  data: PreparedCoco,
  params: CocoParams,
  thresholds: Float64Array,
  k: number,
  truths: Int32Array,
  detections: Int32Array,
  position: number,
  out: GroupOutput,
  scratch: GroupScratch,
): void {
  const { gt, dt } = data;
  const A = params.areaRanges.length;
  const T = thresholds.length;
  const allThresholds = (1 << T) - 1;
  const G = truths.length;
  const D = detections.length;
  scratch.reserve(G, D);
  const { iou, gtArea, gtCrowd, gtUnrecorded, dtArea, dtBestIou, order, orderIgnored, matchedAt } = scratch;

  for (let j = 0; j < G; j++) {
    const truth = truths[j]!;
    gtArea[j] = gt.area[truth]!;
    gtCrowd[j] = gt.crowd[truth]!;
    gtUnrecorded[j] = gt.idIsZero[truth]!;
  }
  for (let d = 0; d < D; d++) {
    const det = detections[d]!;
    dtArea[d] = dt.area[det]!;
    out.score[position + d] = dt.score[det]!;
    out.rank[position + d] = d;
    let bestIou = 0;
    for (let j = 0; j < G; j++) {
      const value = boxIou(dt.box, det * 4, gt.box, truths[j]! * 4, gtCrowd[j] === 1);
      iou[d * G + j] = value;
      if (value > bestIou) bestIou = value;
    }
    dtBestIou[d] = bestIou;
  }

  if (G === 0) {
    // Nothing to match (the common case): each detection is a false positive, or ignored when its
    // own area is outside the range.
    for (let a = 0; a < A; a++) {
      const [lo, hi] = params.areaRanges[a]!;
      for (let d = 0; d < D; d++) {
        if (!(dtArea[d]! < lo || dtArea[d]! > hi)) out.falsePositive[(position + d) * A + a] = allThresholds;
      }
    }
    return;
  }

  for (let a = 0; a < A; a++) {
    const [lo, hi] = params.areaRanges[a]!;
    // GT sorted with ignored last, stably: `np.argsort([g['_ignore'] ...], kind='mergesort')`.
    let nonIgnored = 0;
    for (let j = 0; j < G; j++) {
      if (!(gtCrowd[j] === 1 || gtArea[j]! < lo || gtArea[j]! > hi)) order[nonIgnored++] = j;
    }
    for (let j = 0, next = nonIgnored; j < G; j++) {
      if (gtCrowd[j] === 1 || gtArea[j]! < lo || gtArea[j]! > hi) order[next++] = j;
    }
    orderIgnored.fill(0, 0, nonIgnored);
    orderIgnored.fill(1, nonIgnored, G);
    out.nonIgnoredGt[k * A + a]! += nonIgnored;

    for (let t = 0; t < T; t++) {
      // matchedAt[j] === stamp marks GT j (sorted position) as taken at this (area, threshold).
      const stamp = scratch.nextStamp();
      for (let d = 0; d < D; d++) {
        let best = thresholds[t]!;
        let m = -1;
        // Below the threshold against every GT (most detections of a crowded image), the search
        // cannot match: skip it.
        const candidates = dtBestIou[d]! >= best ? G : 0;
        for (let j = 0; j < candidates; j++) {
          const truth = order[j]!;
          // A matched GT is taken unless it is a crowd region.
          if (matchedAt[j] === stamp && gtCrowd[truth] === 0) continue;
          // Holding a regular GT, never trade it for an ignored one (they are sorted last).
          if (m > -1 && orderIgnored[m] === 0 && orderIgnored[j] === 1) break;
          const value = iou[d * G + truth]!;
          if (value < best) continue;
          best = value;
          m = j;
        }
        const outside = dtArea[d]! < lo || dtArea[d]! > hi;
        const cell = (position + d) * A + a;
        if (m === -1) {
          // Unmatched: a false positive unless its own area is outside the range.
          if (!outside) out.falsePositive[cell]! |= 1 << t;
        } else {
          matchedAt[m] = stamp;
          // dtMatches holds the GT id, and an id of 0 reads as "unmatched" downstream.
          const recorded = gtUnrecorded[order[m]!] === 0;
          if (orderIgnored[m] === 1 || (!recorded && outside)) continue; // ignored
          if (recorded) out.truePositive[cell]! |= 1 << t;
          else out.falsePositive[cell]! |= 1 << t;
        }
      }
    }
  }
}

/** IoU of `maskApi.c` `bbIou`: a crowd GT's union is the detection's own area. */
function boxIou(d: Float64Array, di: number, g: Float64Array, gi: number, crowd: boolean): number {
  const dx = d[di]!, dy = d[di + 1]!, dw = d[di + 2]!, dh = d[di + 3]!;
  const gx = g[gi]!, gy = g[gi + 1]!, gw = g[gi + 2]!, gh = g[gi + 3]!;
  const w = Math.min(dw + dx, gw + gx) - Math.max(dx, gx);
  if (w <= 0) return 0;
  const h = Math.min(dh + dy, gh + gy) - Math.max(dy, gy);
  if (h <= 0) return 0;
  const intersection = w * h;
  const detArea = dw * dh;
  return intersection / (crowd ? detArea : detArea + gw * gh - intersection);
}

/** Per-(image, category) working arrays, grown on demand and reused across groups. */
class GroupScratch {
  readonly sortBuffer: Int32Array;
  iou = new Float64Array(256);
  gtArea = new Float64Array(16);
  gtCrowd = new Uint8Array(16);
  gtUnrecorded = new Uint8Array(16);
  order = new Int32Array(16);
  orderIgnored = new Uint8Array(16);
  matchedAt = new Int32Array(16);
  dtArea = new Float64Array(128);
  dtBestIou = new Float64Array(128);
  private stamp = 0;

  constructor(sortBuffer: Int32Array) {
    this.sortBuffer = sortBuffer;
  }

  reserve(G: number, D: number): void {
    if (this.iou.length < G * D) this.iou = new Float64Array(G * D * 2);
    if (this.dtArea.length < D) {
      this.dtArea = new Float64Array(D * 2);
      this.dtBestIou = new Float64Array(D * 2);
    }
    if (this.order.length < G) {
      this.gtArea = new Float64Array(G * 2);
      this.gtCrowd = new Uint8Array(G * 2);
      this.gtUnrecorded = new Uint8Array(G * 2);
      this.order = new Int32Array(G * 2);
      this.orderIgnored = new Uint8Array(G * 2);
      this.matchedAt = new Int32Array(G * 2);
      this.stamp = 0;
    }
  }

  nextStamp(): number {
    if (this.stamp === 0x7fffffff) {
      this.matchedAt.fill(0);
      this.stamp = 0;
    }
    return ++this.stamp;
  }
}
