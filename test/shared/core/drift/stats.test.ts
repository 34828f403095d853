import { describe, expect, it } from "vitest";
import { bandStatistics, compareFeatures, imageFeatures, ksTwoSample, psi } from "../../../../shared/core/drift/stats.ts";

// Reference values computed with scipy 1.17.1 (`scipy.stats.ks_2samp`) and numpy, Evidently's
// PSI recipe (equal-width bins over both samples, 30 bins, empty bins 0.0001).
const A = [0.61, 0.29, 0.06, 0.59, -1.73, -0.74, 0.51, -0.56, 0.39, 1.64, 0.05, -0.06, 0.64, -0.82, 0.37, 1.77, 1.09, -1.28, 2.36, 1.31, 1.05, -0.32, -0.4, 1.06, -2.47, -1.71];
const B = [2.2, 1.1, 1.5, 0.9, 2.8, 1.9, 0.4, 1.2, 3.1, 1.7, 2.2, 0.8, 1.4, 2.6, 1.3];

describe("ksTwoSample", () => {
  it("matches scipy's exact two-sided p-value", () => {
    const r = ksTwoSample(A, B);
    expect(r.statistic).toBeCloseTo(0.6641025641025641, 12);
    expect(r.pValue).toBeCloseTo(0.0001656554493312461, 10);
  });

  it("handles ties as scipy does", () => {
    const r = ksTwoSample([1, 2, 2, 3, 3, 3, 4, 5], [2, 3, 4, 4, 5, 6]);
    expect(r.statistic).toBeCloseTo(0.4166666666666667, 12);
    expect(r.pValue).toBeCloseTo(0.4602064602064602, 10);
  });

  it("matches scipy on larger samples (exact) and uses the asymptotic distribution beyond n·m = 10⁶", () => {
    const x2 = Array.from({ length: 300 }, (_, i) => ((i * 37) % 300) / 300);
    const y2 = Array.from({ length: 250 }, (_, j) => (j / 250) ** 1.3);
    const exact = ksTwoSample(x2, y2);
    expect(exact.statistic).toBeCloseTo(0.1, 12);
    expect(exact.pValue).toBeCloseTo(0.12195418457928303, 8);
    const x = Array.from({ length: 1500 }, (_, i) => ((i * 7919) % 1500) / 1500);
    const y = Array.from({ length: 1200 }, (_, j) => (j / 1200) ** 1.1);
    const asymp = ksTwoSample(x, y);
    expect(asymp.statistic).toBeCloseTo(0.035833333333333384, 12);
    // scipy.stats.kstwobign.sf(√(nm/(n+m))·D): Kolmogorov's limit (scipy's own "asymp" mode uses
    // kstwo at round(nm/(n+m)), 0.3503 here).
    expect(asymp.pValue).toBeCloseTo(0.35887304236226786, 10);
  });

  it("gives p = 1 for identical samples", () => {
    expect(ksTwoSample(A, A)).toEqual({ statistic: 0, pValue: 1 });
  });
});

describe("psi", () => {
  it("matches Evidently's recipe computed with numpy", () => {
    expect(psi(A, B)).toBeCloseTo(8.155791682238418, 10);
    expect(psi(A, A)).toBe(0);
  });

  it("handles a constant sample (numpy widens an empty range by ±0.5)", () => {
    expect(psi([3, 3, 3], [3, 3])).toBe(0);
  });
});

describe("bandStatistics", () => {
  it("computes mean, std and nearest-rank percentiles over unmasked pixels of one channel", () => {
    // Interleaved RGB: the green channel (offset 1) holds 0..9, the last pixel masked.
    const pixels = 11;
    const data = new Uint8Array(pixels * 3);
    for (let i = 0; i < pixels; i++) data[i * 3 + 1] = i === 10 ? 200 : i;
    const mask = new Uint8Array(pixels);
    mask[10] = 255;
    const s = bandStatistics(data, 3, 1, pixels, mask);
    expect(s.mean).toBe(4.5);
    expect(s.std).toBeCloseTo(Math.sqrt(8.25), 12);
    expect([s.p05, s.p25, s.p50, s.p75, s.p95]).toEqual([0, 2, 4, 7, 9]);
  });

  it("names features per band plus the nodata fraction", () => {
    const s = bandStatistics(Uint8Array.from([1, 3]), 1, 0, 2, null);
    const f = imageFeatures({ nir: s }, 0.25);
    expect(f).toMatchObject({ "nir.mean": 2, "nir.std": 1, "nir.p50": 1, nodata_fraction: 0.25 });
    expect(Object.keys(f)).toHaveLength(8);
  });
});

describe("compareFeatures", () => {
  const t = { psiThreshold: 0.1, ksPValue: 0.05, driftShare: 0.5 };
  const rows = (values: number[], other: (v: number) => number) => values.map((v) => ({ a: v, b: other(v) }));

  it("flags a shifted window and not a window from the same distribution", () => {
    const ref = rows(A, (v) => v * 2);
    const same = compareFeatures(ref, rows(A.slice(0, 15), (v) => v * 2), t);
    expect(same.drifted).toBe(false);
    expect(same.features.every((f) => !f.drifted)).toBe(true);
    const shifted = compareFeatures(ref, rows(B, (v) => v * 2 + 3), t);
    expect(shifted.drifted).toBe(true);
    expect(shifted.features.map((f) => [f.name, f.drifted])).toEqual([["a", true], ["b", true]]);
  });

  it("drifts the input only when the share of drifted features reaches driftShare", () => {
    const ref = rows(A, () => 1);
    const oneOfTwo = compareFeatures(ref, rows(B, () => 1), { ...t, driftShare: 0.6 });
    expect(oneOfTwo.features.find((f) => f.name === "a")!.drifted).toBe(true);
    expect(oneOfTwo.drifted).toBe(false);
    expect(compareFeatures(ref, rows(B, () => 1), t).drifted).toBe(true);
  });
});
