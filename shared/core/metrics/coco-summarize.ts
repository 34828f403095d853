import type { CocoAccumulation } from "./coco-accumulate.ts";
import type { CocoParams } from "./coco-evaluate-images.ts";
import { AREA_LABELS } from "./coco-types.ts";
import type { AreaLabel, CocoPerClass, CocoStats } from "./coco-types.ts";

/**
 * NumPy's pairwise summation (`pairwise_sum_DOUBLE`, blocks of 128 with 8 accumulators) of one
 * buffer-sized block: `numpySum` puts the blocks together, so that means come out bit-identical to
 * `np.mean` rather than merely close.
 */
export function pairwiseSum(values: ArrayLike<number>, start: number, n: number): number {
  if (n < 8) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[start + i]!;
    return sum;
  }
  if (n <= 128) {
    let r0 = values[start]!, r1 = values[start + 1]!, r2 = values[start + 2]!, r3 = values[start + 3]!;
    let r4 = values[start + 4]!, r5 = values[start + 5]!, r6 = values[start + 6]!, r7 = values[start + 7]!;
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      const at = start + i;
      r0 += values[at]!; r1 += values[at + 1]!; r2 += values[at + 2]!; r3 += values[at + 3]!;
      r4 += values[at + 4]!; r5 += values[at + 5]!; r6 += values[at + 6]!; r7 += values[at + 7]!;
    }
    let sum = (r0 + r1 + (r2 + r3)) + (r4 + r5 + (r6 + r7));
    for (; i < n; i++) sum += values[start + i]!;
    return sum;
  }
  let half = Math.floor(n / 2);
  half -= half % 8;
  return pairwiseSum(values, start, half) + pairwiseSum(values, start + half, n - half);
}

/**
 * NumPy's sum of a contiguous float64 array, as `np.add.reduce` runs it: the ufunc loop gets the
 * array in buffer-sized blocks (8192 elements, `np.getbufsize()`), sums each block pairwise and
 * adds the block sums left to right onto 0. For more than 8192 values this differs from one
 * pairwise sum over everything in the last bit, and COCOeval's AP mean is over T·R·K values
 * (80,800 for 80 classes).
 */
export function numpySum(values: ArrayLike<number>, n: number): number {
  let sum = 0;
  for (let start = 0; start < n; start += NUMPY_BUFSIZE) sum += pairwiseSum(values, start, Math.min(NUMPY_BUFSIZE, n - start));
  return sum;
}

const NUMPY_BUFSIZE = 8192;

/** `np.mean(s[s > -1])`, or −1 when nothing is above −1 (COCOeval's "undefined"). */
export function meanOfDefined(values: ArrayLike<number>, count = values.length): number {
  const kept = new Float64Array(count);
  let n = 0;
  for (let i = 0; i < count; i++) if (values[i]! > -1) kept[n++] = values[i]!;
  return n === 0 ? -1 : numpySum(kept, n) / n;
}

interface Selection {
  /** null: all IoU thresholds; otherwise the thresholds equal (`==`) to it, possibly none. */
  iouThr: number | null;
  area: AreaLabel;
  maxDets: number;
}

function matchingIndices(values: ArrayLike<number>, wanted: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) if (values[i] === wanted) out.push(i);
  return out;
}

/** Reused by summarizeOne: the AP gather alone is T·R·K values (a million for 80 classes). */
let gatherBuffer = new Float64Array(0);

/**
 * `_summarize`: gathers `s[t, :, :, aind, mind]` (or the recall slice) in C order, keeps the cells
 * above −1 and takes their mean — in one pass into a reused buffer, in the same order.
 */
function summarizeOne(acc: CocoAccumulation, params: CocoParams, precisionNotRecall: boolean, sel: Selection, k?: number): number {
  const { T, R, K, A, M } = acc.counts;
  const tind = sel.iouThr === null ? [...Array(T).keys()] : matchingIndices(params.iouThrs, sel.iouThr);
  const a = AREA_LABELS.indexOf(sel.area);
  const mind = matchingIndices(params.maxDets, sel.maxDets);
  const kFrom = k ?? 0;
  const kTo = k === undefined ? K : k + 1;
  const most = tind.length * (precisionNotRecall ? R : 1) * (kTo - kFrom) * mind.length;
  if (gatherBuffer.length < most) gatherBuffer = new Float64Array(most);
  const kept = gatherBuffer;
  let n = 0;
  const source = precisionNotRecall ? acc.precision : acc.recall;
  for (const t of tind) {
    for (let r = 0; r < (precisionNotRecall ? R : 1); r++) {
      const base = precisionNotRecall ? (t * R + r) * K : t * K;
      for (let kk = kFrom; kk < kTo; kk++) {
        for (const m of mind) {
          const value = source[((base + kk) * A + a) * M + m]!;
          if (value > -1) kept[n++] = value;
        }
      }
    }
  }
  return n === 0 ? -1 : numpySum(kept, n) / n;
}

/**
 * `_summarizeDets`: the twelve stats. Like pycocotools, the first one asks for maxDets == 100
 * literally (−1 when 100 is not among `maxDets`); the others use maxDets[0], [1] and [2].
 */
export function summarizeDetections(acc: CocoAccumulation, params: CocoParams): CocoStats {
  const md = params.maxDets;
  const last = md[2]!;
  const ap = (sel: Selection) => summarizeOne(acc, params, true, sel);
  const ar = (sel: Selection) => summarizeOne(acc, params, false, sel);
  return {
    AP: ap({ iouThr: null, area: "all", maxDets: 100 }),
    AP50: ap({ iouThr: 0.5, area: "all", maxDets: last }),
    AP75: ap({ iouThr: 0.75, area: "all", maxDets: last }),
    APs: ap({ iouThr: null, area: "small", maxDets: last }),
    APm: ap({ iouThr: null, area: "medium", maxDets: last }),
    APl: ap({ iouThr: null, area: "large", maxDets: last }),
    AR1: ar({ iouThr: null, area: "all", maxDets: md[0]! }),
    AR10: ar({ iouThr: null, area: "all", maxDets: md[1]! }),
    AR100: ar({ iouThr: null, area: "all", maxDets: last }),
    ARs: ar({ iouThr: null, area: "small", maxDets: last }),
    ARm: ar({ iouThr: null, area: "medium", maxDets: last }),
    ARl: ar({ iouThr: null, area: "large", maxDets: last }),
  };
}

/**
 * Per-category numbers the way detectron2 and mmdet read COCOeval's arrays:
 * `precision[:, :, k, area=all, maxDets=-1]` averaged over cells > −1.
 */
export function summarizePerClass(acc: CocoAccumulation, params: CocoParams, catIds: number[], catNames: string[]): CocoPerClass[] {
  const last = params.maxDets[params.maxDets.length - 1]!;
  return catIds.map((categoryId, k) => ({
    categoryId,
    name: catNames[k] ?? String(categoryId),
    AP: summarizeOne(acc, params, true, { iouThr: null, area: "all", maxDets: last }, k),
    AP50: summarizeOne(acc, params, true, { iouThr: 0.5, area: "all", maxDets: last }, k),
    AP75: summarizeOne(acc, params, true, { iouThr: 0.75, area: "all", maxDets: last }, k),
    AR100: summarizeOne(acc, params, false, { iouThr: null, area: "all", maxDets: last }, k),
  }));
}
