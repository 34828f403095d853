import { describe, expect, it } from "vitest";
import { boundaryDensity, confidenceInto, meanConfidence, noveltyOf, priorityOf, DEFAULT_PRIORITY_WEIGHTS } from "../../../../shared/core/prelabel/priority.ts";
import { predictImage } from "../../../../shared/core/serving/predict.ts";
import type { ModelRunner } from "../../../../shared/core/evaluation/types.ts";
import { ModelCardSchema } from "../../../../shared/core/models/model-card.ts";

/** Logits for one pixel per column of a 1×N tile, planes [class][pixel]. */
function logitsOf(pixels: number[][]): Float32Array {
  const classes = pixels[0]!.length;
  const out = new Float32Array(classes * pixels.length);
  pixels.forEach((l, p) => l.forEach((v, c) => (out[c * pixels.length + p] = v)));
  return out;
}

describe("softmax confidence", () => {
  it("is 0 entropy and margin 1 for a certain pixel, entropy 1 and margin 0 for a uniform one", () => {
    const w = 3;
    const entropy = new Float32Array(w);
    const margin = new Float32Array(w);
    confidenceInto(entropy, margin, w, { x: 0, y: 0, width: w, height: 1 }, logitsOf([[1000, 0, 0], [2, 2, 2], [Math.log(3), 0, 0]]), 3, w, 1);
    expect(entropy[0]).toBeCloseTo(0, 6);
    expect(margin[0]).toBeCloseTo(1, 6);
    expect(entropy[1]).toBeCloseTo(1, 6);
    expect(margin[1]).toBeCloseTo(0, 6);
    // softmax(ln 3, 0, 0) = (0.6, 0.2, 0.2): H = −(0.6 ln 0.6 + 0.4 ln 0.2) / ln 3.
    expect(entropy[2]).toBeCloseTo(-(0.6 * Math.log(0.6) + 0.4 * Math.log(0.2)) / Math.log(3), 5);
    expect(margin[2]).toBeCloseTo(0.4, 5);
  });

  it("treats NaN logits as −∞ and a pixel with no finite logit as unknown (entropy 1)", () => {
    const entropy = new Float32Array(2);
    const margin = new Float32Array(2);
    confidenceInto(entropy, margin, 2, { x: 0, y: 0, width: 2, height: 1 }, logitsOf([[NaN, 5, NaN], [NaN, NaN, NaN]]), 3, 2, 1);
    expect([entropy[0], margin[0]]).toEqual([0, 1]);
    expect([entropy[1], margin[1]]).toEqual([1, 0]);
  });

  it("averages over valid pixels only (mask values ≥ classes are nodata)", () => {
    const c = meanConfidence(Float32Array.from([0.2, 0.4, 1]), Float32Array.from([0.8, 0.6, 0]), Uint8Array.from([0, 1, 255]), 3);
    expect(c!.meanEntropy).toBeCloseTo(0.3, 6);
    expect(c!.meanMargin).toBeCloseTo(0.7, 6);
    expect(c!.pixels).toBe(2);
    expect(meanConfidence(new Float32Array(1), new Float32Array(1), Uint8Array.from([255]), 3)).toBeNull();
  });

  it("comes out of predictImage from a logits model, and is null for a labels model", async () => {
    const card = (format: "logits" | "labels") => ModelCardSchema.parse({
      name: "m", task: "segmentation", classes: ["a", "b"],
      input: { name: "x", layout: "NCHW", height: null, width: null, channels: ["red", "green", "blue"] },
      output: { name: "y", format },
    });
    const logitsRunner = { card: card("logits"), maxBatch: 1, run: async (_i: unknown, dims: readonly number[]) => {
      const [, , h, w] = dims as number[];
      const data = new Float32Array(2 * h! * w!);
      // Class b wins by a margin that grows along the row.
      for (let p = 0; p < h! * w!; p++) data[h! * w! + p] = p % w!;
      return { data, dims: [1, 2, h!, w!] };
    } } as unknown as ModelRunner;
    const image = { width: 4, height: 2, channels: 3, data: new Uint8Array(24) };
    const p = await predictImage(logitsRunner, { image }, { confidence: true });
    expect([...p.mask]).toEqual([0, 1, 1, 1, 0, 1, 1, 1]);
    expect(p.confidence!.meanEntropy).toBeGreaterThan(0);
    expect(p.confidence!.meanEntropy).toBeLessThan(1);
    const labelsRunner = { card: card("labels"), maxBatch: 1, run: async (_i: unknown, dims: readonly number[]) => ({ data: new Int32Array(dims[2]! * dims[3]!), dims: [1, dims[2]!, dims[3]!] }) } as unknown as ModelRunner;
    expect((await predictImage(labelsRunner, { image }, { confidence: true })).confidence).toBeNull();
    expect((await predictImage(logitsRunner, { image })).confidence).toBeUndefined();
  });
});

describe("boundary density", () => {
  it("counts valid pixels with a right or lower neighbour of another class", () => {
    // 3×2: a | b on the first row; a a a below.
    expect(boundaryDensity(Uint8Array.from([0, 1, 1, 0, 0, 0]), 3, 2, 2)).toBeCloseTo(3 / 6, 9);
    expect(boundaryDensity(new Uint8Array(6), 3, 2, 2)).toBe(0);
  });

  it("ignores the edge of nodata, and is null without a valid pixel", () => {
    expect(boundaryDensity(Uint8Array.from([0, 255, 0, 0]), 2, 2, 2)).toBe(0);
    expect(boundaryDensity(Uint8Array.from([255, 255]), 2, 1, 2)).toBeNull();
  });
});

describe("novelty", () => {
  const reference = [1, 2, 3, 4, 5].map((v) => ({ "red.mean": v, nodata_fraction: 0 }));

  it("is 0 at the reference median and 1 outside the reference range", () => {
    expect(noveltyOf({ "red.mean": 3 }, reference)).toBe(0);
    expect(noveltyOf({ "red.mean": 99 }, reference)).toBe(1);
    expect(noveltyOf({ "red.mean": -1 }, reference)).toBe(1);
    // Mid-rank for the ties: 4 of 5 below → p = 0.8 (and the all-equal nodata feature p = 0.5).
    expect(noveltyOf({ "red.mean": 4.5, nodata_fraction: 0 }, reference)).toBeCloseTo((0.6 + 0) / 2, 9);
  });

  it("is null without at least two reference images or a shared feature", () => {
    expect(noveltyOf({ "red.mean": 3 }, reference.slice(0, 1))).toBeNull();
    expect(noveltyOf({ "nir.mean": 3 }, reference)).toBeNull();
  });
});

describe("priority", () => {
  it("is the weighted mean of the components present, with the reason", () => {
    const p = priorityOf({ uncertainty: 0.5, boundary: 0.2, novelty: 1 }, { uncertainty: 2, boundary: 1, novelty: 1 });
    expect(p.score).toBeCloseTo((2 * 0.5 + 0.2 + 1) / 4, 12);
    expect(p.reason).toBe("uncertainty 0.500×2, boundary 0.200×1, novelty 1.000×1 → 0.550");
  });

  it("leaves a missing component out instead of counting it as zero", () => {
    const without = priorityOf({ uncertainty: 0.5, boundary: 0.1, novelty: null }, DEFAULT_PRIORITY_WEIGHTS);
    expect(without.score).toBeCloseTo((0.6 * 0.5 + 0.25 * 0.1) / 0.85, 12);
    expect(without.reason).toMatch(/novelty n\/a/);
    expect(priorityOf({ uncertainty: null, boundary: null, novelty: null }, DEFAULT_PRIORITY_WEIGHTS).score).toBe(0);
  });

  it("orders a more uncertain item first and clamps components to [0, 1]", () => {
    const w = DEFAULT_PRIORITY_WEIGHTS;
    expect(priorityOf({ uncertainty: 0.9, boundary: 0.1, novelty: 0.2 }, w).score).toBeGreaterThan(priorityOf({ uncertainty: 0.1, boundary: 0.1, novelty: 0.2 }, w).score);
    expect(priorityOf({ uncertainty: 7, boundary: null, novelty: null }, w).score).toBe(1);
  });
});
