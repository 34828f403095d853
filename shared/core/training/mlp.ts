import type { SeededRng } from "./rng.ts";

/**
 * The baseline's per-pixel classifier: inputs → hidden (ReLU) → class logits, trained with softmax
 * cross-entropy. All weights live in one flat Float64Array (what Adam updates and a checkpoint
 * stores), laid out so each block is exactly an ONNX 1×1 Conv weight in row-major order:
 *
 *   w1 [hidden, inputs]   b1 [hidden]   w2 [classes, hidden]   b2 [classes]
 *
 * Training runs in float64 so gradients are exact enough to check by finite differences; the ONNX
 * export rounds to float32, which changes logits by ~1e-6 relative.
 */
export interface MlpShape {
  inputs: number;
  hidden: number;
  classes: number;
}

export interface MlpViews {
  w1: Float64Array;
  b1: Float64Array;
  w2: Float64Array;
  b2: Float64Array;
}

export function parameterCount(shape: MlpShape): number {
  const { inputs: i, hidden: h, classes: c } = shape;
  return h * i + h + c * h + c;
}

/** Views of the four blocks of a flat weight (or gradient) vector. */
export function viewsOf(shape: MlpShape, flat: Float64Array): MlpViews {
  const { inputs: i, hidden: h, classes: c } = shape;
  if (flat.length !== parameterCount(shape)) throw new Error(`MLP weights: ${flat.length} values, shape needs ${parameterCount(shape)}`);
  let offset = 0;
  const take = (n: number) => flat.subarray(offset, (offset += n));
  return { w1: take(h * i), b1: take(h), w2: take(c * h), b2: take(c) };
}

/** He-normal first layer (ReLU follows it), Glorot-scaled output layer, zero biases. */
export function initWeights(shape: MlpShape, rng: SeededRng): Float64Array {
  const flat = new Float64Array(parameterCount(shape));
  const { w1, w2 } = viewsOf(shape, flat);
  const s1 = Math.sqrt(2 / shape.inputs);
  for (let k = 0; k < w1.length; k++) w1[k] = rng.normal() * s1;
  const s2 = Math.sqrt(2 / (shape.hidden + shape.classes));
  for (let k = 0; k < w2.length; k++) w2[k] = rng.normal() * s2;
  return flat;
}

/** Logits for `count` samples of `shape.inputs` features each (row-major); returns count × classes. */
export function forward(shape: MlpShape, weights: Float64Array, x: ArrayLike<number>, count: number): Float64Array {
  const { inputs: ni, hidden: nh, classes: nc } = shape;
  const { w1, b1, w2, b2 } = viewsOf(shape, weights);
  const out = new Float64Array(count * nc);
  const h = new Float64Array(nh);
  for (let s = 0; s < count; s++) {
    const xo = s * ni;
    for (let j = 0; j < nh; j++) {
      let a = b1[j]!;
      for (let i = 0; i < ni; i++) a += w1[j * ni + i]! * x[xo + i]!;
      h[j] = a > 0 ? a : 0;
    }
    for (let c = 0; c < nc; c++) {
      let z = b2[c]!;
      for (let j = 0; j < nh; j++) z += w2[c * nh + j]! * h[j]!;
      out[s * nc + c] = z;
    }
  }
  return out;
}

/** Class with the highest logit per sample (ties → lowest class id). */
export function predict(shape: MlpShape, weights: Float64Array, x: ArrayLike<number>, count: number): Uint8Array {
  const logits = forward(shape, weights, x, count);
  const out = new Uint8Array(count);
  for (let s = 0; s < count; s++) {
    let best = 0;
    for (let c = 1; c < shape.classes; c++) if (logits[s * shape.classes + c]! > logits[s * shape.classes + best]!) best = c;
    out[s] = best;
  }
  return out;
}

/**
 * Mean softmax cross-entropy over the samples in `batch` (indices into x/y), and its gradient
 * with respect to every weight, written into `grad` (overwritten).
 */
export function lossAndGradient(
  shape: MlpShape,
  weights: Float64Array,
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  batch: ArrayLike<number>,
  grad: Float64Array,
): number {
  const { inputs: ni, hidden: nh, classes: nc } = shape;
  const { w1, b1, w2, b2 } = viewsOf(shape, weights);
  grad.fill(0);
  const g = viewsOf(shape, grad);
  const pre = new Float64Array(nh);
  const h = new Float64Array(nh);
  const z = new Float64Array(nc);
  const dh = new Float64Array(nh);
  const scale = 1 / batch.length;
  let loss = 0;

  for (let b = 0; b < batch.length; b++) {
    const s = batch[b]!;
    const xo = s * ni;
    const label = y[s]!;
    if (label >= nc) throw new Error(`training label ${label} is outside 0–${nc - 1}`);
    for (let j = 0; j < nh; j++) {
      let a = b1[j]!;
      for (let i = 0; i < ni; i++) a += w1[j * ni + i]! * x[xo + i]!;
      pre[j] = a;
      h[j] = a > 0 ? a : 0;
    }
    let max = -Infinity;
    for (let c = 0; c < nc; c++) {
      let v = b2[c]!;
      for (let j = 0; j < nh; j++) v += w2[c * nh + j]! * h[j]!;
      z[c] = v;
      if (v > max) max = v;
    }
    // Log-sum-exp around the max, so large logits cannot overflow.
    let sum = 0;
    for (let c = 0; c < nc; c++) sum += Math.exp(z[c]! - max);
    loss += Math.log(sum) + max - z[label]!;

    dh.fill(0);
    for (let c = 0; c < nc; c++) {
      // d(loss)/dz = softmax − one-hot, averaged over the batch.
      const dz = (Math.exp(z[c]! - max) / sum - (c === label ? 1 : 0)) * scale;
      g.b2[c]! += dz;
      for (let j = 0; j < nh; j++) {
        g.w2[c * nh + j]! += dz * h[j]!;
        dh[j]! += dz * w2[c * nh + j]!;
      }
    }
    for (let j = 0; j < nh; j++) {
      if (pre[j]! <= 0) continue;
      const d = dh[j]!;
      g.b1[j]! += d;
      for (let i = 0; i < ni; i++) g.w1[j * ni + i]! += d * x[xo + i]!;
    }
  }
  return loss * scale;
}
