import { PermanentError } from "../../errors.ts";
import { nanMean } from "./segmentation.ts";

/**
 * Image classification metrics from a confusion matrix (rows ground truth, columns prediction).
 *
 * Definitions (the usual confusion-matrix ones; macro F1 averages over the same classes as
 * scikit-learn's `f1_score(average="macro")`, those in the ground truth or the predictions):
 * - accuracy = trace / number of samples;
 * - per-class precision = tp / predicted (null when the class was never predicted) and recall =
 *   tp / support (null when the class has no ground truth);
 * - per-class F1 = 2·tp / (predicted + support), which equals 2PR/(P+R) and is 0 when P + R = 0
 *   (a class that is in the ground truth but never predicted correctly, or predicted but absent);
 * - macro F1 = unweighted mean of per-class F1 over the classes that occur in the ground truth or
 *   in the predictions; a class absent from both has no F1 and is excluded (counting it as 0 or 1
 *   would reward or punish a model for classes the evaluation set cannot judge).
 *
 * As with segmentation, a prediction outside 0..K-1 counts as wrong for its sample.
 */
export interface ClassificationConfusion {
  readonly numClasses: number;
  /** K×K sample counts, row-major: row = ground truth, column = prediction. */
  readonly matrix: Float64Array;
  /** Per ground-truth class: samples whose prediction was outside 0..K-1. */
  readonly outOfRange: Float64Array;
}

export function createClassificationConfusion(numClasses: number): ClassificationConfusion {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`numClasses must be a positive integer, got ${numClasses}`);
  return { numClasses, matrix: new Float64Array(numClasses * numClasses), outOfRange: new Float64Array(numClasses) };
}

/** Adds one sample: ground-truth class `truth`, predicted class `predicted` (-1 or ≥ K = no class). */
export function addClassification(cm: ClassificationConfusion, truth: number, predicted: number): void {
  const k = cm.numClasses;
  if (!Number.isInteger(truth) || truth < 0 || truth >= k) {
    throw new PermanentError("bad_ground_truth", `ground-truth class ${truth} is outside 0–${k - 1}`);
  }
  if (Number.isInteger(predicted) && predicted >= 0 && predicted < k) cm.matrix[truth * k + predicted]! += 1;
  else cm.outOfRange[truth]! += 1;
}

/** Argmax of each row of logits `[N,C]` (NaN counts as −∞; ties → lowest index). */
export function argmaxRows(logits: Float32Array, dims: readonly number[]): Int32Array {
  if (dims.length !== 2) throw new Error(`classification logits must be [N,C], got [${dims.join(",")}]`);
  const [n, c] = dims as [number, number];
  if (logits.length !== n * c) throw new Error(`logits hold ${logits.length} values, dims [${dims.join(",")}] need ${n * c}`);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const first = logits[i * c]!;
    let best = first === first ? first : -Infinity;
    let arg = 0;
    for (let j = 1; j < c; j++) {
      const v = logits[i * c + j]!;
      if (v > best) {
        best = v;
        arg = j;
      }
    }
    out[i] = arg;
  }
  return out;
}

/**
 * Accumulates logits `[N,C]` against N ground-truth classes. `classMap` maps a logit index to a
 * confusion-matrix class (-1 = a class the matrix does not know → wrong); identity when absent.
 */
export function accumulateClassificationLogits(
  cm: ClassificationConfusion,
  logits: Float32Array,
  dims: readonly number[],
  truth: ArrayLike<number>,
  classMap?: Int32Array,
): void {
  const predicted = argmaxRows(logits, dims);
  if (truth.length !== predicted.length) throw new Error(`${truth.length} ground-truth classes for ${predicted.length} predictions`);
  for (let i = 0; i < predicted.length; i++) {
    const raw = predicted[i]!;
    const mapped = classMap ? (classMap[raw] ?? -1) : raw;
    addClassification(cm, truth[i]!, mapped);
  }
}

export interface ClassificationClassMetrics {
  precision: number | null;
  recall: number | null;
  /** null only when the class is absent from both ground truth and predictions. */
  f1: number | null;
  /** Ground-truth samples of the class. */
  support: number;
  predicted: number;
  truePositives: number;
}

export interface ClassificationMetrics {
  accuracy: number | null;
  macroF1: number | null;
  perClass: ClassificationClassMetrics[];
  total: number;
}

/** `meanOver` restricts macro F1 to some classes (a model's own); per-class values cover all. */
export function classificationMetrics(cm: ClassificationConfusion, meanOver?: readonly number[]): ClassificationMetrics {
  const k = cm.numClasses;
  const predicted = new Float64Array(k);
  const support = new Float64Array(k);
  let trace = 0;
  let total = 0;
  for (let g = 0; g < k; g++) {
    let row = cm.outOfRange[g]!;
    for (let p = 0; p < k; p++) {
      const v = cm.matrix[g * k + p]!;
      row += v;
      predicted[p]! += v;
    }
    support[g] = row;
    total += row;
    trace += cm.matrix[g * k + g]!;
  }
  const perClass: ClassificationClassMetrics[] = [];
  for (let c = 0; c < k; c++) {
    const tp = cm.matrix[c * k + c]!;
    const pred = predicted[c]!;
    const sup = support[c]!;
    perClass.push({
      precision: pred > 0 ? tp / pred : null,
      recall: sup > 0 ? tp / sup : null,
      f1: pred + sup > 0 ? (2 * tp) / (pred + sup) : null,
      support: sup,
      predicted: pred,
      truePositives: tp,
    });
  }
  const selected = meanOver ?? perClass.map((_, i) => i);
  return {
    accuracy: total > 0 ? trace / total : null,
    macroF1: nanMean(selected.map((c) => perClass[c]?.f1 ?? null)),
    perClass,
    total,
  };
}
