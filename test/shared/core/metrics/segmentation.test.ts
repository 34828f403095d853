import { describe, expect, it } from "vitest";
import { PermanentError } from "../../../../shared/errors.ts";
import {
  accumulateLabels, accumulateLogits, accumulateLogitsRegion, accumulateRegion, argmaxChannels, createSegmentationConfusion,
  mergeSegmentationConfusion, nanMean, segmentationMetrics,
} from "../../../../shared/core/metrics/segmentation.ts";

const IGNORE = { ignoreIndex: 255 };

describe("segmentation confusion and metrics", () => {
  // GT [0,0,1,1,2,255] vs pred [0,1,1,1,0,2]; the last pixel is ignored.
  // Rows GT, columns pred: [[1,1,0],[0,2,0],[1,0,0]].
  // intersect [1,2,0], predicted [2,3,0], label [2,2,1], union [3,3,1].
  const gt = Uint8Array.from([0, 0, 1, 1, 2, 255]);
  const pred = Int32Array.from([0, 1, 1, 1, 0, 2]);

  it("accumulates rows = ground truth, columns = prediction, skipping the ignore index", () => {
    const cm = createSegmentationConfusion(3);
    accumulateLabels(cm, gt, pred, IGNORE);
    expect(Array.from(cm.matrix)).toEqual([1, 1, 0, 0, 2, 0, 1, 0, 0]);
    expect(Array.from(cm.outOfRange)).toEqual([0, 0, 0]);
  });

  it("derives IoU, class accuracy, Dice, mIoU and pixel accuracy from the matrix", () => {
    const cm = createSegmentationConfusion(3);
    accumulateLabels(cm, gt, pred, IGNORE);
    const m = segmentationMetrics(cm);
    expect(m.perClass.map((c) => c.iou)).toEqual([1 / 3, 2 / 3, 0]);
    expect(m.perClass.map((c) => c.accuracy)).toEqual([0.5, 1, 0]);
    expect(m.perClass.map((c) => c.dice)).toEqual([0.5, 0.8, 0]);
    expect(m.perClass.map((c) => c.support)).toEqual([2, 2, 1]);
    expect(m.mIoU).toBeCloseTo(1 / 3, 12);
    expect(m.pixelAccuracy).toBeCloseTo(3 / 5, 12);
    expect(m.meanAccuracy).toBeCloseTo(0.5, 12);
    expect(m.totalPixels).toBe(5);
  });

  it("excludes a class absent from both ground truth and prediction from the means (nan-mean)", () => {
    const cm = createSegmentationConfusion(4);
    accumulateLabels(cm, gt, pred, IGNORE);
    const m = segmentationMetrics(cm);
    expect(m.perClass[3]!.iou).toBeNull();
    expect(m.perClass[3]!.accuracy).toBeNull();
    expect(m.mIoU).toBeCloseTo(1 / 3, 12);
  });

  it("counts a class that is predicted but absent from the ground truth as IoU 0", () => {
    const cm = createSegmentationConfusion(2);
    accumulateLabels(cm, Uint8Array.from([0, 0]), Int32Array.from([0, 1]), IGNORE);
    const m = segmentationMetrics(cm);
    // class 0: inter 1, union 2 → 0.5; class 1: union 1, inter 0 → 0.
    expect(m.perClass.map((c) => c.iou)).toEqual([0.5, 0]);
    expect(m.mIoU).toBe(0.25);
  });

  it("counts predictions outside 0..K-1 as wrong for the ground-truth class", () => {
    const cm = createSegmentationConfusion(3);
    accumulateLabels(cm, Uint8Array.from([0, 0]), Int32Array.from([0, 7]), IGNORE);
    expect(Array.from(cm.outOfRange)).toEqual([1, 0, 0]);
    const m = segmentationMetrics(cm);
    expect(m.perClass[0]!.iou).toBe(0.5);
    expect(m.perClass[0]!.support).toBe(2);
    expect(m.pixelAccuracy).toBe(0.5);
  });

  it("maps model outputs to matrix classes through a class map (-1 = unknown)", () => {
    const cm = createSegmentationConfusion(2);
    // Model class 0 is dataset class 1 and vice versa; model class 2 is unknown to the dataset.
    const classMap = Int32Array.from([1, 0, -1]);
    accumulateLabels(cm, Uint8Array.from([0, 1, 1]), Int32Array.from([1, 0, 2]), { ignoreIndex: 255, classMap });
    expect(Array.from(cm.matrix)).toEqual([1, 0, 0, 1]);
    expect(Array.from(cm.outOfRange)).toEqual([0, 1]);
  });

  it("restricts the means to selected classes while keeping every per-class value", () => {
    const cm = createSegmentationConfusion(3);
    accumulateLabels(cm, gt, pred, IGNORE);
    const m = segmentationMetrics(cm, [0, 1]);
    expect(m.mIoU).toBeCloseTo(0.5, 12);
    expect(m.perClass).toHaveLength(3);
  });

  it("rejects a ground-truth value that is neither a class nor the ignore index", () => {
    const cm = createSegmentationConfusion(2);
    expect(() => accumulateLabels(cm, Uint8Array.from([5]), Int32Array.from([0]), IGNORE)).toThrow(PermanentError);
  });

  it("accumulates a tile region against a padded prediction with its own row stride", () => {
    // 4×2 ground truth; the region is the right half (x 2..3); the prediction tile is 3 wide.
    const truth = Uint8Array.from([0, 0, 1, 0, 0, 0, 1, 1]);
    const tile = Int32Array.from([1, 1, 9, 1, 0, 9]);
    const cm = createSegmentationConfusion(2);
    accumulateRegion(cm, truth, 4, { x: 2, y: 0, width: 2, height: 2 }, tile, 0, 3, IGNORE);
    // Pairs: (1,1) (0,1) (1,1) (1,0) → [[0,1],[1,2]]; the 9s are padding and never read.
    expect(Array.from(cm.matrix)).toEqual([0, 1, 1, 2]);
    expect(Array.from(cm.outOfRange)).toEqual([0, 0]);
  });

  it("merges matrices", () => {
    const a = createSegmentationConfusion(2);
    const b = createSegmentationConfusion(2);
    accumulateLabels(a, Uint8Array.from([0, 1]), Int32Array.from([0, 1]), IGNORE);
    accumulateLabels(b, Uint8Array.from([1]), Int32Array.from([9]), IGNORE);
    mergeSegmentationConfusion(a, b);
    expect(Array.from(a.matrix)).toEqual([1, 0, 0, 1]);
    expect(Array.from(a.outOfRange)).toEqual([0, 1]);
  });
});

describe("argmax over logits [N,C,H,W]", () => {
  it("takes the largest channel, the lowest index on ties, and never a NaN", () => {
    // N=1, C=3, H=1, W=3. Pixel 0: (1,1,0) → 0; pixel 1: (0,2,2) → 1; pixel 2: (NaN,1,0) → 1.
    const logits = Float32Array.from([1, 0, NaN, 1, 2, 1, 0, 2, 0]);
    expect(Array.from(argmaxChannels(logits, [1, 3, 1, 3]))).toEqual([0, 1, 1]);
  });

  it("handles batches and accumulates from logits like from labels", () => {
    // N=2, C=2, H=1, W=2: image 0 → [1,0], image 1 → [0,1].
    const logits = Float32Array.from([0, 5, 1, 0, 3, 0, 0, 4]);
    expect(Array.from(argmaxChannels(logits, [2, 2, 1, 2]))).toEqual([1, 0, 0, 1]);
    const cm = createSegmentationConfusion(2);
    accumulateLogits(cm, logits, [2, 2, 1, 2], Uint8Array.from([1, 0, 0, 0]), IGNORE);
    expect(Array.from(cm.matrix)).toEqual([2, 1, 0, 1]);
  });

  it("rejects logits whose length does not match the dims", () => {
    expect(() => argmaxChannels(new Float32Array(5), [1, 2, 1, 2])).toThrow(/need 4/);
  });
});

describe("accumulateLogitsRegion", () => {
  it("counts the argmax of each pixel of a padded logits tile against a ground-truth region", () => {
    // Ground truth 3×2: row 0 [0, 1, 2], row 1 [2, 255, 0]; region x 1..2 (2×2).
    const truth = Uint8Array.from([0, 1, 2, 2, 255, 0]);
    // Logits tile C=3 of 3×2 (one padding column); per pixel (c0, c1, c2):
    // row 0: (0,5,1) → 1, (2,2,9) → 2, pad; row 1: (7,0,0) → 0 (ignored GT), (1,1,0) → 0 (tie), pad.
    const c0 = [0, 2, 99, 7, 1, 99];
    const c1 = [5, 2, 99, 0, 1, 99];
    const c2 = [1, 9, 99, 0, 0, 99];
    // Batch slot 1: one unused image of 18 values first.
    const logits = Float32Array.from([...new Array<number>(18).fill(-1), ...c0, ...c1, ...c2]);
    const cm = createSegmentationConfusion(3);
    accumulateLogitsRegion(cm, truth, 3, { x: 1, y: 0, width: 2, height: 2 }, logits, 18, 3, 3, 2, IGNORE);
    // Pairs (GT, pred): (1,1), (2,2), (0,0); the ignored pixel is skipped.
    expect(Array.from(cm.matrix)).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  });
});

describe("nanMean", () => {
  it("averages the defined values only", () => {
    expect(nanMean([1, null, 0, NaN])).toBe(0.5);
    expect(nanMean([null])).toBeNull();
  });
});
