import { describe, expect, it } from "vitest";
import { cocoEvaluate } from "../../../../shared/core/metrics/coco.ts";
import type { CocoDetectionResult, CocoGroundTruth } from "../../../../shared/core/metrics/coco.ts";

/**
 * COCOeval semantics beyond the published fixtures, each worked out by hand from cocoeval.py.
 * Notation as in coco-fixtures.test.ts: pr = tp / (tp + fp + ε), rc = tp / npig, AP at a
 * threshold = mean over the 101 recall thresholds of the right-envelope of pr; a lone leading TP
 * has pr = 1/(1+ε). Exact boxes have IoU 1, so these results hold at every IoU threshold.
 */

const EPS = Number.EPSILON;
const ONE = 1 / (1 + EPS);

type Box = [number, number, number, number];
/** An annotation before its id is assigned. */
interface NewAnnotation {
  image_id: number;
  category_id: number;
  bbox: Box;
  area?: number;
  iscrowd?: 0 | 1;
  ignore?: number;
}

function groundTruth(annotations: NewAnnotation[], options: { images?: number[]; categories?: number[]; ids?: number[] } = {}): CocoGroundTruth {
  return {
    images: (options.images ?? [1]).map((id) => ({ id })),
    categories: (options.categories ?? [1]).map((id) => ({ id, name: `class${id}` })),
    annotations: annotations.map((ann, i) => ({ id: options.ids?.[i] ?? i + 1, ...ann })),
  };
}

function ann(bbox: Box, extra: Partial<NewAnnotation> = {}): NewAnnotation {
  return { image_id: 1, category_id: 1, bbox, area: bbox[2] * bbox[3], iscrowd: 0, ...extra };
}

function det(bbox: Box, score: number, image = 1, category = 1): CocoDetectionResult {
  return { image_id: image, category_id: category, bbox, score };
}

describe("cocoEvaluate — images, categories and crowds", () => {
  it("counts detections on an image without ground truth as false positives", () => {
    const gt = groundTruth([ann([10, 10, 20, 20])], { images: [1, 2] });
    // Image 2 has no GT: its detection (.9) is an FP ranked above image 1's TP (.5).
    // npig = 1: pr = [0, ½], rc = [0, 1] → envelope ½ everywhere → AP = ½. Recall still 1.
    const withStray = cocoEvaluate(gt, [det([10, 10, 20, 20], 0.5, 1), det([0, 0, 20, 20], 0.9, 2)]);
    expect(withStray.stats.AP).toBeCloseTo(0.5, 12);
    expect(withStray.stats.AR100).toBe(1);
    // Without the stray detection the same TP alone scores 1/(1+ε).
    expect(cocoEvaluate(gt, [det([10, 10, 20, 20], 0.5, 1)]).stats.AP).toBeCloseTo(ONE, 12);
  });

  it("lets a crowd region absorb any number of detections, but not ones overlapping it too little", () => {
    const gt = groundTruth([ann([0, 0, 100, 100], { iscrowd: 1 }), ann([200, 200, 20, 20])]);
    const dt = [
      det([10, 10, 10, 10], 0.9), // inside the crowd: IoU = 100/100 (det area as union) → ignored
      det([20, 20, 10, 10], 0.85), // ditto: a crowd is matched again and again
      det([95, 95, 10, 10], 0.7), // overlap 5×5 = 25 of its 100 → IoU .25 → unmatched FP
      det([200, 200, 20, 20], 0.6), // TP on the regular GT
    ];
    // Left after ignoring: FP, TP with npig = 1 → pr = [0, ½] → AP = ½. Had the crowd detections
    // counted as FPs, the TP would sit at precision ¼.
    const { stats } = cocoEvaluate(gt, dt);
    expect(stats.AP).toBeCloseTo(0.5, 12);
    expect(stats.AR100).toBe(1);
  });

  it("does not trade a regular match for a better-fitting crowd region", () => {
    // The detection [0,0,10,6] lies inside the crowd [0,0,20,20] (crowd IoU 60/60 = 1) and overlaps
    // the regular GT [0,0,10,10] with IoU 60/100 = .6. GT are scanned regular first; once the
    // regular one is a candidate (t ≤ .6) the scan stops before the crowd → TP. For t ≥ .65 only
    // the crowd matches → ignored, leaving the regular GT unfound → 0.
    // AP = (3 · 1/(1+ε) + 7 · 0)/10; AP50 = 1/(1+ε); AP75 = 0.
    const gt = groundTruth([ann([0, 0, 10, 10]), ann([0, 0, 20, 20], { iscrowd: 1 })]);
    const { stats } = cocoEvaluate(gt, [det([0, 0, 10, 6], 0.9)]);
    expect(stats.AP).toBeCloseTo((3 * ONE) / 10, 12);
    expect(stats.AP50).toBeCloseTo(ONE, 12);
    expect(stats.AP75).toBe(0);
  });

  it("disregards a user `ignore` flag: only iscrowd makes a GT ignored (COCOeval._prepare)", () => {
    // `_prepare` sets ignore from `ignore` and then overwrites it with `'iscrowd' in gt and
    // gt['iscrowd']`. A GT with ignore: 1 therefore still counts: with an exact detection AP = 1/(1+ε),
    // not −1 (which an ignored GT would give: npig = 0).
    const dt = [det([10, 10, 20, 20], 0.9)];
    const noCrowdKey = groundTruth([{ image_id: 1, category_id: 1, bbox: [10, 10, 20, 20], area: 400, ignore: 1 }]);
    const crowdZero = groundTruth([ann([10, 10, 20, 20], { ignore: 1, iscrowd: 0 })]);
    const crowdOne = groundTruth([ann([10, 10, 20, 20], { ignore: 0, iscrowd: 1 })]);
    expect(cocoEvaluate(noCrowdKey, dt).stats.AP).toBeCloseTo(ONE, 12);
    expect(cocoEvaluate(crowdZero, dt).stats.AP).toBeCloseTo(ONE, 12);
    // And an ignored-by-user GT with no detection is a miss (0), not absent (−1).
    expect(cocoEvaluate(noCrowdKey, []).stats.AP).toBe(0);
    // A crowd GT is ignored: no non-ignored GT anywhere → −1.
    expect(cocoEvaluate(crowdOne, dt).stats.AP).toBe(-1);
  });

  it("scores 0 for a class with GT but no detections, and leaves out a class with detections but no GT", () => {
    const gt = groundTruth([ann([0, 0, 10, 10], { category_id: 1 }), ann([50, 50, 10, 10], { category_id: 2 })], { categories: [1, 2, 3] });
    const dt = [det([0, 0, 10, 10], 0.9, 1, 1), det([80, 80, 10, 10], 0.9, 1, 3)];
    const { stats, perClass } = cocoEvaluate(gt, dt);
    // Classes 1 (1/(1+ε)) and 2 (0) are averaged; class 3 (−1) is not: AP = (1/(1+ε) + 0) / 2.
    expect(stats.AP).toBeCloseTo(ONE / 2, 12);
    expect(perClass.map((c) => c.AP)).toEqual([ONE, 0, -1]);
  });

  it("pools categories when useCats is false", () => {
    const gt = groundTruth([ann([0, 0, 10, 10], { category_id: 1 })], { categories: [1, 2] });
    const dt = [det([0, 0, 10, 10], 0.9, 1, 2)]; // right box, wrong class
    // Per category: class 1 has a GT and no detection (0), class 2 has no GT (−1) → AP 0.
    expect(cocoEvaluate(gt, dt).stats.AP).toBe(0);
    // Class-agnostic: the box matches → AP 1/(1+ε); there is no per-class breakdown.
    const pooled = cocoEvaluate(gt, dt, { useCats: false });
    expect(pooled.stats.AP).toBeCloseTo(ONE, 12);
    expect(pooled.perClass).toEqual([]);
  });

  it("counts one evalImgs entry per non-empty (image, category) and area range", () => {
    const gt = groundTruth([ann([0, 0, 10, 10], { category_id: 1 }), ann([0, 0, 10, 10], { image_id: 2, category_id: 2 })], {
      images: [1, 2, 3],
      categories: [1, 2],
    });
    const dt = [det([0, 0, 10, 10], 0.9, 1, 2)];
    // Non-empty pairs: (1, cat1) GT, (1, cat2) detection, (2, cat2) GT → 3 × 4 area ranges.
    expect(cocoEvaluate(gt, dt).evalImgsCount).toBe(12);
  });
});

describe("cocoEvaluate — order, truncation and area ranges", () => {
  it("breaks score ties across images by image id, then within an image by input order", () => {
    // Two images, one GT each; per image one detection at score .5, an FP on one and a TP on the
    // other. Ties are kept in concatenation order = ascending image id.
    const gt = groundTruth([ann([0, 0, 10, 10], { image_id: 1 }), ann([0, 0, 10, 10], { image_id: 2 })], { images: [2, 1] });
    const fpOn1 = cocoEvaluate(gt, [det([50, 50, 10, 10], 0.5, 1), det([0, 0, 10, 10], 0.5, 2)]);
    // FP first: npig 2, pr = [0, ½], rc = [0, ½] → ½ for the 51 r ≤ ½ → 25.5/101.
    expect(fpOn1.stats.AP).toBeCloseTo(25.5 / 101, 12);
    const fpOn2 = cocoEvaluate(gt, [det([0, 0, 10, 10], 0.5, 1), det([50, 50, 10, 10], 0.5, 2)]);
    // TP first: pr = [1/(1+ε), ½], rc = [½, ½] → 1/(1+ε) for r ≤ ½ → 51/(101(1+ε)).
    expect(fpOn2.stats.AP).toBeCloseTo((51 * ONE) / 101, 12);

    // One image: the first of two equal-scored detections is matched first.
    const single = groundTruth([ann([0, 0, 10, 10])]);
    const fpFirst = cocoEvaluate(single, [det([50, 50, 10, 10], 0.5), det([0, 0, 10, 10], 0.5)]);
    expect(fpFirst.stats.AP).toBeCloseTo(0.5, 12); // pr = [0, ½], rc = [0, 1]
    const tpFirst = cocoEvaluate(single, [det([0, 0, 10, 10], 0.5), det([50, 50, 10, 10], 0.5)]);
    expect(tpFirst.stats.AP).toBeCloseTo(ONE, 12); // pr = [1/(1+ε), ½], rc = [1, 1]
  });

  it("keeps tie order through a long merge: 20 equal scores over 20 images", () => {
    // Images 1…20 have one GT each and one detection scored .5: exact on images 1–8, a miss on
    // 9–20. Ties keep image order, so the 8 TPs come first: pr = 1/(1+ε), then k/(k+ε) = 1 for
    // k ≥ 2 → envelope 1 up to rc = 8/20 = .4 and nothing after. recThrs 0 … .40 are 41 values
    // (40 × .01 rounds to the double .4) → AP50 = 41/101. Any reordering of the equal scores that
    // moves a miss ahead of a TP lowers it. 20 detections also take the sort past its 16-item runs.
    const images = Array.from({ length: 20 }, (_, i) => i + 1);
    const gt = groundTruth(images.map((image) => ann([0, 0, 10, 10], { image_id: image })), { images });
    const dt = images.map((image) => det(image <= 8 ? [0, 0, 10, 10] : [50, 50, 10, 10], 0.5, image));
    expect(cocoEvaluate(gt, dt).stats.AP50).toBeCloseTo(41 / 101, 12);
  });

  it("keeps only the 100 best detections of an image: the 101st true positive is cut", () => {
    // 101 disjoint 10×10 GT boxes and an exact detection for each, scores falling with the index.
    const boxes: Box[] = Array.from({ length: 101 }, (_, i) => [(i % 20) * 20, Math.floor(i / 20) * 20, 10, 10]);
    const gt = groundTruth(boxes.map((b) => ann(b)));
    const dt = boxes.map((b, i) => det(b, 1 - i / 1000));
    const { stats } = cocoEvaluate(gt, dt);
    // 100 TPs of 101 GT: precision 1 up to rc = 100/101 ≈ .990 → r = 0 … .99 (100 values) → 100/101.
    expect(stats.AP).toBeCloseTo(100 / 101, 12);
    expect(stats.AR100).toBeCloseTo(100 / 101, 12);
    expect(stats.AR10).toBeCloseTo(10 / 101, 12);
    expect(stats.AR1).toBeCloseTo(1 / 101, 12);
    // With maxDets raised to 101 nothing is cut: AP50 = 1 (the first TP's 1/(1+ε) is lifted by the
    // envelope to the later exact 1s). AP itself asks for maxDets == 100 and is −1 then (see below).
    const uncut = cocoEvaluate(gt, dt, { maxDets: [1, 10, 101] }).stats;
    expect([uncut.AP50, uncut.AR100, uncut.AP]).toEqual([1, 1, -1]);
  });

  it("treats area bounds as inclusive: an object of exactly 32² is small and medium", () => {
    // GT area 1024 with an exact detection (.9); an unmatched detection of area exactly 96² = 9216
    // scored higher (.95).
    const gt = groundTruth([ann([0, 0, 32, 32])]);
    const dt = [det([0, 0, 32, 32], 0.9), det([200, 200, 96, 96], 0.95)];
    const { stats } = cocoEvaluate(gt, dt);
    // all and medium [1024, 9216]: the FP is inside → pr = [0, ½] → ½.
    expect(stats.AP).toBeCloseTo(0.5, 12);
    expect(stats.APm).toBeCloseTo(0.5, 12);
    // small [0, 1024]: the GT counts, the unmatched 9216 detection is outside → ignored → 1/(1+ε).
    expect(stats.APs).toBeCloseTo(ONE, 12);
    // large [9216, 1e10]: the GT is outside → no GT → −1 (the FP alone does not make a cell).
    expect(stats.APl).toBe(-1);
    expect([stats.ARs, stats.ARm, stats.ARl]).toEqual([1, 1, -1]);
  });

  it("ranges ground truth by its `area` field, not by its box", () => {
    // A 10×10 box whose segment area is 2000 is a medium object.
    const gt = groundTruth([ann([0, 0, 10, 10], { area: 2000 })]);
    const { stats } = cocoEvaluate(gt, [det([0, 0, 10, 10], 0.9)]);
    expect(stats.APs).toBe(-1);
    expect(stats.APm).toBeCloseTo(ONE, 12);
  });

  it("falls back to the box area when a GT has no `area` (pycocotools would raise KeyError)", () => {
    const gt = groundTruth([{ image_id: 1, category_id: 1, bbox: [0, 0, 40, 40], iscrowd: 0 }]);
    const { stats } = cocoEvaluate(gt, [det([0, 0, 40, 40], 0.9)]);
    expect([stats.APs, stats.APl]).toEqual([-1, -1]);
    expect(stats.APm).toBeCloseTo(ONE, 12); // 1600 is medium
  });

  it("reproduces summarize()'s literal maxDets=100 for the first stat", () => {
    // `stats[0] = _summarize(1)` asks for maxDets == 100; with maxDets [1, 10, 50] no cell matches
    // → −1, while AP50 and AR100 use maxDets[2] = 50. Fixture A's detections otherwise.
    const gt = groundTruth([ann([10, 10, 20, 20]), ann([50, 50, 30, 30])]);
    const dt = [det([10, 10, 20, 20], 0.9), det([52, 52, 30, 30], 0.8), det([0, 0, 5, 5], 0.95)];
    const { stats } = cocoEvaluate(gt, dt, { maxDets: [50, 1, 10] });
    expect(stats.AP).toBe(-1);
    expect(stats.AP50).toBeCloseTo(2 / 3, 12);
    expect(stats.AR100).toBeCloseTo(0.8, 12);
  });

  it("scores an empty results list as all misses", () => {
    const gt = groundTruth([ann([0, 0, 10, 10])], { categories: [1, 2] });
    const { stats, perClass } = cocoEvaluate(gt, []);
    expect(stats.AP).toBe(0);
    expect(stats.AR100).toBe(0);
    expect(perClass.map((c) => c.AP)).toEqual([0, -1]);
  });
});

describe("cocoEvaluate — what pycocotools does silently", () => {
  it("reads a match to a GT with id 0 as no match (dtMatches stores the id) and warns", () => {
    const gt = groundTruth([ann([0, 0, 10, 10])], { ids: [0] });
    const result = cocoEvaluate(gt, [det([0, 0, 10, 10], 0.9)]);
    // The detection matches GT 0, dtm = 0 → counted as an FP; the GT stays unfound: AP = 0.
    expect(result.stats.AP).toBe(0);
    expect(result.warnings.join(" ")).toMatch(/id 0/);
  });

  it("skips annotations on unknown images and unknown categories, with warnings", () => {
    const gt = groundTruth([ann([0, 0, 10, 10]), ann([0, 0, 10, 10], { image_id: 9 }), ann([20, 20, 10, 10], { category_id: 7 })]);
    const result = cocoEvaluate(gt, [det([0, 0, 10, 10], 0.9), det([20, 20, 10, 10], 0.95, 1, 7)]);
    // Only the first GT and the first detection are evaluated: one TP → 1/(1+ε).
    expect(result.stats.AP).toBeCloseTo(ONE, 12);
    expect(result.warnings).toHaveLength(3);
  });
});
