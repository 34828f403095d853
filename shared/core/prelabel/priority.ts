/**
 * How useful an image is to label next, from what the current model says about it. Pure.
 *
 * Three components, each in [0, 1]:
 * - uncertainty: the mean per-pixel entropy of the model's softmax over valid pixels, divided by
 *   ln C (so 1 means "uniform over the classes" whatever C is). Entropy sampling is the classic
 *   active-learning acquisition (Settles, "Active Learning Literature Survey", 2009, §3.1).
 * - boundary: the share of valid pixels whose right or lower neighbour is predicted as another
 *   class. Boundaries are where masks are drawn and where annotators spend their edits, and a
 *   fragmented prediction is usually a wrong one.
 * - novelty: how far the image's input statistics sit from the model's training data: per drift
 *   feature, |2·p − 1| where p is the share of reference images below the item's value (0 at the
 *   reference median, 1 outside the reference range), averaged over the features.
 *
 * The score is the weighted mean of the components that are available (a labels-only model has no
 * softmax; an item or a model without drift statistics has no novelty): weights of missing
 * components are left out rather than counted as zero, so a missing signal neither helps nor hurts.
 */

export interface PriorityWeights {
  uncertainty: number;
  boundary: number;
  novelty: number;
}

export const DEFAULT_PRIORITY_WEIGHTS: PriorityWeights = { uncertainty: 0.6, boundary: 0.25, novelty: 0.15 };

export interface PriorityComponents {
  uncertainty: number | null;
  boundary: number | null;
  novelty: number | null;
}

export interface Priority {
  score: number;
  components: PriorityComponents;
  weights: PriorityWeights;
  /** For people: each component with its weight and share of the score. */
  reason: string;
}

const NAMES = ["uncertainty", "boundary", "novelty"] as const;

export function priorityOf(components: PriorityComponents, weights: PriorityWeights): Priority {
  let total = 0;
  let weight = 0;
  for (const name of NAMES) {
    const value = components[name];
    if (value === null || !Number.isFinite(value)) continue;
    total += weights[name] * clamp01(value);
    weight += weights[name];
  }
  const score = weight > 0 ? total / weight : 0;
  const parts = NAMES.map((name) => {
    const value = components[name];
    if (value === null || !Number.isFinite(value)) return `${name} n/a`;
    return `${name} ${clamp01(value).toFixed(3)}×${weights[name]}`;
  });
  return { score, components, weights, reason: `${parts.join(", ")} → ${score.toFixed(3)}` };
}

/** Softmax confidence over the valid pixels of a prediction (see `accumulateConfidence`). */
export interface Confidence {
  /** Mean entropy / ln C, in [0, 1]. */
  meanEntropy: number;
  /** Mean (top-1 − top-2) probability, in [0, 1]. */
  meanMargin: number;
  pixels: number;
}

/**
 * Per-pixel normalised entropy and margin of the softmax of C logit planes over a `w`×`h` tile,
 * written into `region` of the image-sized planes `entropy` and `margin` (NaN logits count as −∞,
 * as in the argmax). Averaged later over the pixels that are not nodata.
 */
export function confidenceInto(
  entropy: Float32Array, margin: Float32Array, imageWidth: number,
  region: { x: number; y: number; width: number; height: number }, logits: Float32Array, classes: number, w: number, h: number,
): void {
  const plane = w * h;
  const lnC = Math.log(classes);
  const p = new Float64Array(classes);
  for (let y = 0; y < region.height; y++) {
    const outRow = (region.y + y) * imageWidth + region.x;
    for (let x = 0; x < region.width; x++) {
      const px = y * w + x;
      let max = -Infinity;
      for (let c = 0; c < classes; c++) {
        const v = logits[c * plane + px]!;
        if (v > max) max = v;
      }
      let sum = 0;
      for (let c = 0; c < classes; c++) {
        const v = logits[c * plane + px]!;
        const e = Number.isFinite(max) && v === v ? Math.exp(v - max) : 0;
        p[c] = e;
        sum += e;
      }
      let ent = 0;
      let top1 = 0;
      let top2 = 0;
      if (sum > 0) {
        for (let c = 0; c < classes; c++) {
          const q = p[c]! / sum;
          if (q > 0) ent -= q * Math.log(q);
          if (q > top1) {
            top2 = top1;
            top1 = q;
          } else if (q > top2) top2 = q;
        }
      } else {
        // Every logit NaN or −∞: nothing is known about this pixel.
        ent = lnC;
      }
      entropy[outRow + x] = classes > 1 ? ent / lnC : 0;
      margin[outRow + x] = top1 - top2;
    }
  }
}

/** Means of the per-pixel planes over the pixels whose mask value is a class (< classes). */
export function meanConfidence(entropy: Float32Array, margin: Float32Array, mask: Uint8Array, classes: number): Confidence | null {
  let e = 0;
  let m = 0;
  let n = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i]! >= classes) continue;
    e += entropy[i]!;
    m += margin[i]!;
    n++;
  }
  return n === 0 ? null : { meanEntropy: e / n, meanMargin: m / n, pixels: n };
}

/**
 * Share of valid pixels with a right or lower valid neighbour of another class, in [0, 1]. Pixels
 * at or beside nodata (values ≥ `classes`) are not boundaries: the nodata edge is not drawn.
 */
export function boundaryDensity(mask: Uint8Array, width: number, height: number, classes: number): number | null {
  let valid = 0;
  let edges = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const v = mask[i]!;
      if (v >= classes) continue;
      valid++;
      const right = x + 1 < width ? mask[i + 1]! : v;
      const down = y + 1 < height ? mask[i + width]! : v;
      if ((right < classes && right !== v) || (down < classes && down !== v)) edges++;
    }
  }
  return valid === 0 ? null : edges / valid;
}

/**
 * How far `item`'s features sit from the reference images' (see the file comment); null when
 * fewer than two reference images or no shared feature.
 */
export function noveltyOf(item: Readonly<Record<string, number>>, reference: readonly Readonly<Record<string, number>>[]): number | null {
  if (reference.length < 2) return null;
  let sum = 0;
  let features = 0;
  for (const [name, value] of Object.entries(item)) {
    if (!Number.isFinite(value)) continue;
    let below = 0;
    let equal = 0;
    let n = 0;
    for (const r of reference) {
      const v = r[name];
      if (v === undefined || !Number.isFinite(v)) continue;
      n++;
      if (v < value) below++;
      else if (v === value) equal++;
    }
    if (n < 2) continue;
    // Mid-rank for ties: an item equal to every reference image sits at the median.
    const p = (below + equal / 2) / n;
    sum += Math.abs(2 * p - 1);
    features++;
  }
  return features === 0 ? null : sum / features;
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}
