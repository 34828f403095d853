import { describe, expect, it } from "vitest";
import { PermanentError } from "../../../../shared/errors.ts";
import {
  accumulateClassificationLogits, addClassification, argmaxRows, classificationMetrics, createClassificationConfusion,
} from "../../../../shared/core/metrics/classification.ts";

function confusionOf(k: number, truth: number[], predicted: number[]) {
  const cm = createClassificationConfusion(k);
  truth.forEach((t, i) => addClassification(cm, t, predicted[i]!));
  return cm;
}

describe("classification metrics", () => {
  // truth [0,0,1,1,2,2], predicted [0,1,1,1,0,2] → rows GT: [[1,1,0],[0,2,0],[1,0,1]].
  // tp [1,2,1], predicted [2,3,1], support [2,2,2].
  const truth = [0, 0, 1, 1, 2, 2];
  const predicted = [0, 1, 1, 1, 0, 2];

  it("computes accuracy, per-class precision/recall/F1 and macro F1 by hand", () => {
    const m = classificationMetrics(confusionOf(3, truth, predicted));
    expect(m.accuracy).toBeCloseTo(4 / 6, 12);
    expect(m.perClass.map((c) => c.precision)).toEqual([1 / 2, 2 / 3, 1]);
    expect(m.perClass.map((c) => c.recall)).toEqual([1 / 2, 1, 1 / 2]);
    // F1 = 2PR/(P+R): 0.5, 2·(2/3)·1/(5/3) = 0.8, 2·1·0.5/1.5 = 2/3.
    const f1 = m.perClass.map((c) => c.f1!);
    expect(f1[0]).toBeCloseTo(0.5, 12);
    expect(f1[1]).toBeCloseTo(0.8, 12);
    expect(f1[2]).toBeCloseTo(2 / 3, 12);
    expect(m.macroF1).toBeCloseTo((0.5 + 0.8 + 2 / 3) / 3, 12);
    expect(m.perClass.map((c) => c.support)).toEqual([2, 2, 2]);
  });

  it("excludes classes absent from both ground truth and predictions from macro F1", () => {
    const m = classificationMetrics(confusionOf(4, truth, predicted));
    expect(m.perClass[3]).toMatchObject({ f1: null, precision: null, recall: null, support: 0 });
    expect(m.macroF1).toBeCloseTo((0.5 + 0.8 + 2 / 3) / 3, 12);
  });

  it("gives F1 = 0 to a class predicted but never in the ground truth, and keeps it in the mean", () => {
    const m = classificationMetrics(confusionOf(2, [0, 0], [0, 1]));
    // class 0: P = 1, R = 1/2 → F1 = 2/3; class 1: P = 0, R undefined → F1 0.
    expect(m.perClass[1]).toMatchObject({ f1: 0, precision: 0, recall: null });
    expect(m.macroF1).toBeCloseTo(1 / 3, 12);
  });

  it("gives F1 = 0 to a class in the ground truth that is never predicted", () => {
    const m = classificationMetrics(confusionOf(2, [0, 1], [0, 0]));
    expect(m.perClass[1]).toMatchObject({ f1: 0, precision: null, recall: 0 });
  });

  it("counts a prediction outside the classes as wrong", () => {
    const m = classificationMetrics(confusionOf(2, [0, 1], [0, -1]));
    expect(m.accuracy).toBe(0.5);
    expect(m.perClass[1]!.support).toBe(1);
  });

  it("restricts macro F1 to selected classes", () => {
    const m = classificationMetrics(confusionOf(3, truth, predicted), [1, 2]);
    expect(m.macroF1).toBeCloseTo((0.8 + 2 / 3) / 2, 12);
  });

  it("rejects a ground-truth class outside the matrix", () => {
    const cm = createClassificationConfusion(2);
    expect(() => addClassification(cm, 2, 0)).toThrow(PermanentError);
  });
});

describe("classification logits", () => {
  it("takes the row argmax with ties to the lowest index", () => {
    expect(Array.from(argmaxRows(Float32Array.from([1, 3, 3, 5, 0, 0, NaN, -1, -2]), [3, 3]))).toEqual([1, 0, 1]);
  });

  it("accumulates logits through a class map", () => {
    const cm = createClassificationConfusion(2);
    // Model index 0 = dataset class 1, model index 1 = dataset class 0.
    accumulateClassificationLogits(cm, Float32Array.from([2, 1, 0, 3]), [2, 2], [1, 1], Int32Array.from([1, 0]));
    // Row 0 predicts model 0 → dataset 1 (right); row 1 predicts model 1 → dataset 0 (wrong).
    expect(Array.from(cm.matrix)).toEqual([0, 0, 1, 1]);
  });
});
