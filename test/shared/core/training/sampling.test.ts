import { describe, expect, it } from "vitest";
import { channelStats, classQuotas, concatSets, samplePixels, splitHoldout, standardise } from "../../../../shared/core/training/sampling.ts";
import { SeededRng } from "../../../../shared/core/training/rng.ts";

describe("classQuotas", () => {
  it("shares samples by count^(1 − power), capped by what each class has", () => {
    // power 0.5: weights √100 = 10, √400 = 20, √0 = 0 → 30 samples split 10 : 20.
    expect(classQuotas([100, 400, 0], 30, 0.5)).toEqual([10, 20, 0]);
    // power 0: proportional; power 1: equal, but class 0 has only 5 pixels.
    expect(classQuotas([100, 300], 40, 0)).toEqual([10, 30]);
    expect(classQuotas([5, 300], 40, 1)).toEqual([5, 20]);
    expect(classQuotas([0, 0], 10, 0.5)).toEqual([0, 0]);
  });
});

describe("samplePixels", () => {
  // A 4×2 image, two channels. Labels: 255 = nodata.
  const image = {
    width: 4,
    height: 2,
    planes: [Uint8Array.from([0, 51, 102, 153, 204, 255, 10, 20]), Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8])],
    labels: Uint8Array.from([0, 0, 1, 1, 255, 255, 2, 0]),
  };
  const options = { samplesPerImage: 100, numClasses: 3, balancePower: 0, ignoreValue: 255 };

  it("never samples nodata pixels and scales features to 0–1", () => {
    const set = samplePixels(image, options, new SeededRng(1));
    // All 6 labelled pixels fit in the quota; the two nodata pixels are left out.
    expect(set.count).toBe(6);
    const rows = Array.from({ length: set.count }, (_, r) => ({ label: set.y[r], x0: set.x[r * 2]!, x1: set.x[r * 2 + 1]! }));
    const fromPixel = (p: number) => ({ label: image.labels[p], x0: image.planes[0]![p]! / 255, x1: image.planes[1]![p]! / 255 });
    const expected = [0, 1, 2, 3, 6, 7].map(fromPixel);
    const key = (r: { label: number | undefined; x0: number; x1: number }) => `${r.label}:${r.x0.toFixed(6)}:${r.x1.toFixed(6)}`;
    expect(rows.map(key).sort()).toEqual(expected.map(key).sort());
  });

  it("is deterministic for a seed and draws a subset when the quota is smaller", () => {
    const small = { ...options, samplesPerImage: 3 };
    const a = samplePixels(image, small, new SeededRng(5));
    const b = samplePixels(image, small, new SeededRng(5));
    expect(Array.from(a.x)).toEqual(Array.from(b.x));
    // proportional quotas of 3 over counts [3, 2, 1]: round(1.5)=2, round(1)=1, round(0.5)=1 (JS rounds .5 up)
    expect(Array.from(a.y)).toEqual([0, 0, 1, 2]);
  });

  it("refuses labels outside the class list", () => {
    const bad = { ...image, labels: Uint8Array.from([0, 0, 1, 1, 255, 255, 7, 0]) };
    expect(() => samplePixels(bad, options, new SeededRng(1))).toThrow(/label 7/);
  });
});

describe("standardisation and holdout", () => {
  it("standardises to mean 0 and std 1 per channel", () => {
    const set = { x: Float64Array.from([1, 10, 3, 20, 5, 30]), y: Uint8Array.from([0, 0, 0]), count: 3 };
    const stats = channelStats(set, 2);
    expect(stats.mean).toEqual([3, 20]);
    // population std of (1, 3, 5) = √(8/3); of (10, 20, 30) = √(200/3)
    expect(stats.std[0]).toBeCloseTo(Math.sqrt(8 / 3), 12);
    expect(stats.std[1]).toBeCloseTo(Math.sqrt(200 / 3), 12);
    standardise(set, 2, stats);
    expect(set.x[0]).toBeCloseTo(-2 / Math.sqrt(8 / 3), 12);
    expect(set.x[3]).toBeCloseTo(0, 12);
    // A flat channel gets the floor, not a division by zero.
    expect(channelStats({ x: Float64Array.from([2, 2]), y: Uint8Array.from([0, 0]), count: 2 }, 1).std).toEqual([1e-3]);
  });

  it("splits off the requested share without losing or duplicating rows", () => {
    const set = concatSets(
      [
        { x: Float64Array.from([0, 1, 2, 3, 4]), y: Uint8Array.from([0, 1, 2, 3, 4]), count: 5 },
        { x: Float64Array.from([5, 6, 7, 8, 9]), y: Uint8Array.from([5, 6, 7, 8, 9]), count: 5 },
      ],
      1,
    );
    const { train, holdout } = splitHoldout(set, 1, 0.2, new SeededRng(3));
    expect(holdout.count).toBe(2);
    expect(train.count).toBe(8);
    const all = [...Array.from(train.y), ...Array.from(holdout.y)].sort((a, b) => a - b);
    expect(all).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Features stay with their labels.
    for (let r = 0; r < holdout.count; r++) expect(holdout.x[r]).toBe(holdout.y[r]);
  });
});
