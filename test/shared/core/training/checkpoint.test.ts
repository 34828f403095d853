import { describe, expect, it } from "vitest";
import { checkpointFingerprint, parseCheckpoint, serialiseCheckpoint } from "../../../../shared/core/training/checkpoint.ts";
import { createTrainingState } from "../../../../shared/core/training/fit.ts";
import { sampleMetrics } from "../../../../shared/core/training/sample-metrics.ts";
import { parseBaselineParams } from "../../../../shared/core/training/params.ts";
import { PermanentError } from "../../../../shared/errors.ts";

describe("checkpoint", () => {
  it("round-trips weights and Adam state bit for bit", () => {
    const state = createTrainingState({ inputs: 4, hidden: 3, classes: 2 }, 1);
    state.weights[0] = 0.1 + 0.2; // not representable exactly in decimal
    state.adam.m[1] = 1e-300;
    state.adam.step = 17;
    state.epoch = 4;
    state.losses = [1.5, 0.7];
    const normalisation = { mean: [0.1, 0.2, 0.3, 0.4], std: [1, 2, 3, 4] };
    const back = parseCheckpoint(serialiseCheckpoint({ fingerprint: "abc", state, normalisation }));
    expect(back.fingerprint).toBe("abc");
    expect(back.normalisation).toEqual(normalisation);
    expect(back.state.epoch).toBe(4);
    expect(back.state.adam.step).toBe(17);
    expect(back.state.weights[0]).toBe(0.1 + 0.2);
    expect(Array.from(back.state.weights)).toEqual(Array.from(state.weights));
    expect(Array.from(back.state.adam.m)).toEqual(Array.from(state.adam.m));
  });

  it("refuses corrupt or inconsistent checkpoints", () => {
    expect(() => parseCheckpoint("{trunc")).toThrow(PermanentError);
    const state = createTrainingState({ inputs: 2, hidden: 2, classes: 2 }, 1);
    const text = serialiseCheckpoint({ fingerprint: "f", state, normalisation: { mean: [0, 0], std: [1, 1] } });
    const broken = JSON.parse(text) as { weights: number[] };
    broken.weights.pop();
    expect(() => parseCheckpoint(JSON.stringify(broken))).toThrow(/weights: 11 values, shape needs 12/);
  });

  it("fingerprints inputs independently of key order", () => {
    expect(checkpointFingerprint({ a: 1, b: [1, 2] })).toBe(checkpointFingerprint({ b: [1, 2], a: 1 }));
    expect(checkpointFingerprint({ a: 1 })).not.toBe(checkpointFingerprint({ a: 2 }));
  });
});

describe("sampleMetrics", () => {
  it("computes accuracy, per-class IoU and mIoU by the definitions", () => {
    // truth:     0 0 0 1 1 2
    // predicted: 0 0 1 1 1 1
    // class 0: tp 2, fn 1, fp 0 → 2/3; class 1: tp 2, fn 0, fp 2 → 2/4; class 2: tp 0, fn 1 → 0; class 3 absent → null
    const m = sampleMetrics([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 1, 1], ["a", "b", "c", "d"]);
    expect(m.pixels).toBe(6);
    expect(m.pixelAccuracy).toBeCloseTo(4 / 6, 12);
    expect(m.perClassIoU).toEqual({ a: 2 / 3, b: 0.5, c: 0, d: null });
    expect(m.mIoU).toBeCloseTo((2 / 3 + 0.5 + 0) / 3, 12);
  });
});

describe("parseBaselineParams", () => {
  it("fills defaults, reports unknown keys and refuses bad values", () => {
    const { params, ignoredKeys } = parseBaselineParams({ epochs: 5, imgsz: 640 });
    expect(params.epochs).toBe(5);
    expect(params.hidden).toBe(16);
    expect(ignoredKeys).toEqual(["imgsz"]);
    expect(() => parseBaselineParams({ epochs: 0 })).toThrow(/epochs/);
    expect(() => parseBaselineParams({ learningRate: "fast" })).toThrow(PermanentError);
  });
});
