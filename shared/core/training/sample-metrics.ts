/**
 * The trainer's own numbers on its held-out sample of training pixels: pixel accuracy, per-class
 * IoU and mIoU. These are self-reported and optimistic (same images, class-balanced sample); the
 * evaluation job's numbers on the pinned evaluation split are the ones that decide promotion.
 */
export interface SampleMetrics {
  pixels: number;
  pixelAccuracy: number;
  /** IoU per class name; null for a class absent from both truth and prediction. */
  perClassIoU: Record<string, number | null>;
  /** Mean over classes with an IoU. */
  mIoU: number | null;
}

export function sampleMetrics(truth: ArrayLike<number>, predicted: ArrayLike<number>, classes: readonly string[]): SampleMetrics {
  if (truth.length !== predicted.length) throw new Error(`${truth.length} labels but ${predicted.length} predictions`);
  const k = classes.length;
  const confusion = new Float64Array(k * k);
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i]!;
    const p = predicted[i]!;
    confusion[t * k + p]! += 1;
    if (t === p) correct += 1;
  }
  const perClassIoU: Record<string, number | null> = {};
  const ious: number[] = [];
  classes.forEach((name, c) => {
    let row = 0;
    let col = 0;
    for (let j = 0; j < k; j++) {
      row += confusion[c * k + j]!;
      col += confusion[j * k + c]!;
    }
    const tp = confusion[c * k + c]!;
    const union = row + col - tp;
    const iou = union > 0 ? tp / union : null;
    perClassIoU[name] = iou;
    if (iou !== null) ious.push(iou);
  });
  return {
    pixels: truth.length,
    pixelAccuracy: truth.length ? correct / truth.length : 0,
    perClassIoU,
    mIoU: ious.length ? ious.reduce((a, b) => a + b, 0) / ious.length : null,
  };
}
