import { describe, expect, it } from "vitest";
import { formatFixed, formatPerClassTable } from "../../../../shared/core/metrics/coco-format.ts";
import { sortIndicesByScoreDesc } from "../../../../shared/core/metrics/coco-sort.ts";
import { readFileSync } from "node:fs";
import { meanOfDefined, numpySum, pairwiseSum } from "../../../../shared/core/metrics/coco-summarize.ts";
import { IOU_THRESHOLDS, linspace, RECALL_THRESHOLDS } from "../../../../shared/core/metrics/coco-types.ts";
import { cocoEvaluate, formatCocoSummary } from "../../../../shared/core/metrics/coco.ts";

describe("COCOeval parameters", () => {
  it("builds thresholds the way np.linspace does", () => {
    // step = (.95 − .5)/9 = 0.049999999999999996 in doubles; element i = i·step + .5; the last is .95.
    const step = (0.95 - 0.5) / 9;
    expect(Array.from(IOU_THRESHOLDS)).toEqual([...Array(9).keys()].map((i) => i * step + 0.5).concat(0.95));
    // summarize() picks IoU .5 and .75 with `==`, so both must be exact members.
    expect(IOU_THRESHOLDS[0]).toBe(0.5);
    expect(IOU_THRESHOLDS[5]).toBe(0.75);
    expect(RECALL_THRESHOLDS).toHaveLength(101);
    expect(RECALL_THRESHOLDS[50]).toBe(0.5);
    expect(RECALL_THRESHOLDS[100]).toBe(1);
    expect(Array.from(linspace(2, 3, 1))).toEqual([2]);
  });
});

describe("NumPy-compatible means", () => {
  it("sums short arrays left to right", () => {
    // 1 + 2⁻⁵³ rounds back to 1 (a tie, to even), every time.
    expect(pairwiseSum([1, 2 ** -53, 2 ** -53, 2 ** -53], 0, 4)).toBe(1);
  });

  it("uses eight partial sums from 8 elements on, like pairwise_sum_DOUBLE", () => {
    // a = [1, 2⁻⁵³ × 8]: r0..r7 = a0..a7, then ((r0+r1)+(r2+r3)) + ((r4+r5)+(r6+r7)) + a8:
    // (1+2⁻⁵³) = 1; 2⁻⁵³+2⁻⁵³ = 2⁻⁵² → 1 + 2⁻⁵²; the right half is 2⁻⁵¹ → 1 + 3·2⁻⁵²;
    // adding a8 = 2⁻⁵³ gives 1 + 3.5·2⁻⁵², a tie that rounds to even: 1 + 4·2⁻⁵² = 1 + 2⁻⁵⁰.
    // Summed left to right the same values stay at 1.
    const values = [1, ...Array(8).fill(2 ** -53)];
    expect(pairwiseSum(values, 0, values.length)).toBe(1 + 2 ** -50);
  });

  it("sums and averages exactly as NumPy does, in 8192-element blocks (vectors written by NumPy)", () => {
    const fixture = JSON.parse(readFileSync(new URL("../../../fixtures/coco/numpy-sums.json", import.meta.url), "utf8")) as {
      sums: { n: number; sum: string; mean: string; plainPairwiseDiffers: boolean }[];
    };
    // float.hex() spelling: 0x1.<13 hex digits>p<exponent>.
    const fromHex = (hex: string) => {
      const [, mantissa, exponent] = /^0x1\.([0-9a-f]+)p([+-]\d+)$/.exec(hex)!;
      return (1 + parseInt(mantissa!, 16) / 16 ** mantissa!.length) * 2 ** Number(exponent);
    };
    for (const { n, sum, mean, plainPairwiseDiffers } of fixture.sums) {
      const values = Float64Array.from({ length: n }, (_, i) => (((i * 7919 + 13) % 10007) / 10007) * 2 ** ((i % 11) - 5));
      expect(numpySum(values, n), `n = ${n}`).toBe(fromHex(sum));
      expect(meanOfDefined(values), `n = ${n}`).toBe(fromHex(mean));
      // The cases the blocks decide: one pairwise sum over all of them is another double.
      if (plainPairwiseDiffers) expect(pairwiseSum(values, 0, n)).not.toBe(fromHex(sum));
    }
    expect(fixture.sums.filter((s) => s.plainPairwiseDiffers).length).toBeGreaterThan(0);
  });

  it("averages only values above −1 and reports −1 when there are none", () => {
    expect(meanOfDefined([-1, 0.5, -1, 0.25])).toBe(0.375);
    expect(meanOfDefined([-1, -1])).toBe(-1);
    expect(meanOfDefined([])).toBe(-1);
  });
});

describe("sortIndicesByScoreDesc", () => {
  it("sorts by score, highest first, keeping equal scores in their incoming order", () => {
    // 40 items (past the 16-item insertion runs, so merges run too) with only 3 distinct scores.
    const score = Array.from({ length: 40 }, (_, i) => [0.2, 0.9, 0.5][i % 3]!);
    const items = Int32Array.from({ length: 40 }, (_, i) => 39 - i); // incoming order: 39, 38, …, 0
    sortIndicesByScoreDesc(items, 0, 40, score, new Int32Array(40));
    const byScore = (s: number) => [...Array(40).keys()].filter((i) => score[i] === s).reverse();
    expect(Array.from(items)).toEqual([...byScore(0.9), ...byScore(0.5), ...byScore(0.2)]);
  });

  it("sorts a slice in place and leaves the rest alone", () => {
    const score = [5, 1, 3, 4, 2];
    const items = Int32Array.from([0, 1, 2, 3, 4]);
    sortIndicesByScoreDesc(items, 1, 3, score, new Int32Array(3));
    expect(Array.from(items)).toEqual([0, 3, 2, 1, 4]);
  });
});

describe("summary formatting", () => {
  it("formats like Python's '{:0.3f}', rounding exact halves to even", () => {
    expect(formatFixed(0.0625, 3)).toBe("0.062"); // 62.5 thousandths exactly → even 62
    expect(formatFixed(0.1875, 3)).toBe("0.188"); // 187.5 → even 188
    expect(formatFixed(2 / 3, 3)).toBe("0.667");
    expect(formatFixed(-1, 3)).toBe("-1.000");
    expect(formatFixed(0.5009900990099009, 3)).toBe("0.501");
    expect(formatFixed(0.95, 2)).toBe("0.95");
  });

  it("prints the twelve lines in pycocotools' layout", () => {
    // Fixture A (see coco-fixtures.test.ts).
    const { stats, perClass } = cocoEvaluate(
      {
        images: [{ id: 1 }],
        categories: [{ id: 1, name: "car" }],
        annotations: [
          { id: 1, image_id: 1, category_id: 1, bbox: [10, 10, 20, 20], area: 400, iscrowd: 0 },
          { id: 2, image_id: 1, category_id: 1, bbox: [50, 50, 30, 30], area: 900, iscrowd: 0 },
        ],
      },
      [
        { image_id: 1, category_id: 1, bbox: [10, 10, 20, 20], score: 0.9 },
        { image_id: 1, category_id: 1, bbox: [52, 52, 30, 30], score: 0.8 },
        { image_id: 1, category_id: 1, bbox: [0, 0, 5, 5], score: 0.95 },
      ],
    );
    expect(formatCocoSummary(stats)).toEqual([
      " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.501",
      " Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.667",
      " Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets=100 ] = 0.667",
      " Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = 0.501",
      " Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = -1.000",
      " Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = -1.000",
      " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.000",
      " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ] = 0.800",
      " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.800",
      " Average Recall     (AR) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = 0.800",
      " Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = -1.000",
      " Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = -1.000",
    ]);
    expect(formatPerClassTable(perClass)).toEqual([
      "category      AP   AP50   AP75  AR100",
      "car        0.501  0.667  0.667  0.800",
    ]);
  });
});
