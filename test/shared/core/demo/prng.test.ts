import { describe, expect, it } from "vitest";
import { createPrng, deriveSeed, mulberry32 } from "../../../../shared/core/demo/prng.ts";

describe("seeded PRNG", () => {
  it("repeats its sequence for a seed and differs between seeds", () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const seqA = Array.from({ length: 50 }, () => a());
    expect(Array.from({ length: 50 }, () => b())).toEqual(seqA);
    expect(Array.from({ length: 50 }, () => c())).not.toEqual(seqA);
  });

  it("draws uniform numbers in [0, 1) with the moments of a uniform distribution", () => {
    const next = mulberry32(7);
    const n = 100_000;
    let sum = 0;
    let sumSq = 0;
    const deciles = new Array<number>(10).fill(0);
    for (let i = 0; i < n; i++) {
      const u = next();
      expect(u >= 0 && u < 1).toBe(true);
      sum += u;
      sumSq += u * u;
      deciles[Math.floor(u * 10)]!++;
    }
    // Uniform(0,1): mean 1/2, variance 1/12; each decile ~n/10 (5σ bounds, so a flake is ~1e-6).
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(sumSq / n - (sum / n) ** 2 - 1 / 12)).toBeLessThan(0.002);
    for (const count of deciles) expect(Math.abs(count - n / 10)).toBeLessThan(5 * Math.sqrt(n * 0.1 * 0.9));
  });

  it("draws standard normals and bounded integers", () => {
    const prng = createPrng(3);
    const n = 50_000;
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < n; i++) {
      const g = prng.gaussian();
      sum += g;
      sumSq += g * g;
    }
    expect(Math.abs(sum / n)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(sumSq / n - 1)).toBeLessThan(0.05);
    const ints = new Set(Array.from({ length: 1000 }, () => prng.int(6)));
    expect([...ints].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    for (let i = 0; i < 100; i++) {
      const r = prng.range(-2, 3);
      expect(r >= -2 && r < 3).toBe(true);
    }
  });

  it("derives distinct, stable seeds per stream", () => {
    expect(deriveSeed(1, 1)).toBe(deriveSeed(1, 1));
    const seeds = new Set([0, 1, 2, 3, 4, 5].flatMap((s) => [1, 2, 3].map((stream) => deriveSeed(s, stream))));
    expect(seeds.size).toBe(18);
  });
});
