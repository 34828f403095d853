import { describe, expect, it } from "vitest";
import { cocoEvaluate } from "../../../../shared/core/metrics/coco.ts";
import type { CocoDetectionResult, CocoGroundTruth, CocoStats } from "../../../../shared/core/metrics/coco.ts";

/**
 * Golden fixtures A–F: the six digits pycocotools 2.0.11's `COCOeval.summarize()` prints, each also
 * derived by hand from COCOeval's definition (cocoapi PythonAPI/pycocotools/cocoeval.py).
 * Notation: after dropping ignored detections, tp/fp are cumulative counts in score order,
 * rc = tp / npig, pr = tp / (tp + fp + ε) with ε = 2⁻⁵² (so a lone first TP has pr = 1/(1+ε), 1 up
 * to 2e-16), the envelope is the running max from the right,
 * and AP at one IoU threshold = (1/101) Σ_r envelope[first i with rc[i] ≥ r], 0 where rc never
 * reaches r. recThrs r = 0, .01, …, 1; "r ≤ .5" covers 51 of them, "r ≤ 2/3" 67.
 */

const EPS = Number.EPSILON;

function gtOf(boxes: { bbox: [number, number, number, number]; cat?: number; image?: number; iscrowd?: 0 | 1; area?: number }[], categories = [1], images = [1]): CocoGroundTruth {
  return {
    images: images.map((id) => ({ id, width: 400, height: 400 })),
    categories: categories.map((id) => ({ id, name: `class${id}` })),
    annotations: boxes.map((b, i) => ({
      id: i + 1,
      image_id: b.image ?? 1,
      category_id: b.cat ?? 1,
      bbox: b.bbox,
      area: b.area ?? b.bbox[2] * b.bbox[3],
      iscrowd: b.iscrowd ?? 0,
    })),
  };
}

function det(bbox: [number, number, number, number], score: number, cat = 1, image = 1): CocoDetectionResult {
  return { image_id: image, category_id: cat, bbox, score };
}

/** Compares with the published six-digit value (1e-6) and, where given, the exact value (1e-9). */
function expectStats(actual: CocoStats, published: Partial<CocoStats>, exact: Partial<CocoStats> = {}): void {
  for (const [key, value] of Object.entries(published) as [keyof CocoStats, number][]) {
    expect(Math.abs(actual[key] - value), `${key}: ${actual[key]} vs published ${value}`).toBeLessThanOrEqual(1e-6);
  }
  for (const [key, value] of Object.entries(exact) as [keyof CocoStats, number][]) {
    expect(Math.abs(actual[key] - value), `${key}: ${actual[key]} vs exact ${value}`).toBeLessThanOrEqual(1e-9);
  }
}

describe("cocoEvaluate — golden fixtures A–F (pycocotools 2.0.11)", () => {
  it("A: a false positive ranked first caps precision at 2/3", () => {
    const gt = gtOf([{ bbox: [10, 10, 20, 20] }, { bbox: [50, 50, 30, 30] }]);
    const dt = [det([10, 10, 20, 20], 0.9), det([52, 52, 30, 30], 0.8), det([0, 0, 5, 5], 0.95)];
    const { stats } = cocoEvaluate(gt, dt);
    // Order: FP (.95), TP exact (.9), then the shifted box: IoU 28²/(900+900−784) = .7717, a TP for
    // t ≤ .75 (6 thresholds) and an FP for t ≥ .8 (4 thresholds). npig = 2.
    // t ≤ .75: pr = [0, 1/2, 2/3], rc = [0, .5, 1] → envelope 2/3 everywhere → AP_t = 2/3.
    // t ≥ .8:  pr = [0, 1/2, 1/3], rc = [0, .5, .5] → .5 for the 51 r ≤ .5, else 0 → 25.5/101.
    const apLow = 2 / 3;
    const apHigh = (51 * 0.5) / 101;
    const ap = (6 * apLow + 4 * apHigh) / 10; // = 506/1010
    // AR1: only the top (false) detection survives maxDets=1 → 0. AR10/100: (6·1 + 4·½)/10 = .8.
    expectStats(
      stats,
      { AP: 0.50099, AP50: 0.666667, AP75: 0.666667, APs: 0.50099, APm: -1, APl: -1, AR1: 0, AR10: 0.8, AR100: 0.8 },
      { AP: ap, AP50: apLow, AP75: apLow, APs: ap, AR1: 0, AR10: 0.8, AR100: 0.8, ARs: 0.8, ARm: -1, ARl: -1 },
    );
  });

  const crowdFixture = (iscrowd: 0 | 1) => ({
    gt: gtOf([{ bbox: [10, 10, 40, 40] }, { bbox: [100, 100, 80, 80], iscrowd }]),
    dt: [det([10, 10, 40, 40], 0.6), det([110, 110, 20, 20], 0.9), det([140, 140, 20, 20], 0.8)],
  });

  it("B: detections inside a crowd region are ignored, however many", () => {
    const { gt, dt } = crowdFixture(1);
    const { stats } = cocoEvaluate(gt, dt);
    // Both small boxes lie inside the crowd: IoU = intersection / detection area = 1 → matched to an
    // ignored GT → ignored. What is left is one TP on the only regular GT (area 1600, medium):
    // pr = 1/(1+ε) at rc = 1 → AP = 1 at every threshold; small and large ranges have no GT → −1.
    // AR1: the top detection (.9) is ignored → recall 0.
    const one = 1 / (1 + EPS);
    expectStats(
      stats,
      { AP: 1, AP50: 1, AP75: 1, APs: -1, APm: 1, APl: -1, AR1: 0, AR10: 1, AR100: 1 },
      { AP: one, AP50: one, AP75: one, APm: one, AR1: 0, AR10: 1, AR100: 1, ARs: -1, ARm: 1, ARl: -1 },
    );
  });

  it("B2: the same boxes without the crowd flag are false positives", () => {
    const { gt, dt } = crowdFixture(0);
    const { stats } = cocoEvaluate(gt, dt);
    // The small boxes have IoU 400/6400 = .0625 with the big GT → two FPs ranked first, then one TP.
    // npig = 2: pr = [0, 0, 1/3], rc = [0, 0, .5] → 1/3 for the 51 r ≤ .5 → AP = 17/101.
    // Medium range: the small detections (area 400 < 1024) are unmatched and outside → ignored,
    // leaving the TP alone: 1/(1+ε) for r ≤ .5 → 51/101.
    const ap = 51 / 3 / 101;
    const apm = 51 / (1 + EPS) / 101;
    expectStats(
      stats,
      { AP: 0.168317, AP50: 0.168317, AP75: 0.168317, APs: -1, APm: 0.50495, APl: -1, AR1: 0, AR10: 0.5, AR100: 0.5 },
      { AP: ap, AP50: ap, AP75: ap, APm: apm, AR10: 0.5, AR100: 0.5, ARm: 0.5 },
    );
  });

  it("C: a class with GT and no detections scores 0 and counts; one without GT is excluded", () => {
    const gt = gtOf([{ bbox: [10, 10, 20, 20], cat: 1 }, { bbox: [50, 50, 30, 30], cat: 2 }], [1, 2, 3]);
    const dt = [det([10, 10, 20, 20], 0.9, 1), det([60, 60, 10, 10], 0.9, 3)];
    const { stats, perClass } = cocoEvaluate(gt, dt);
    // class 1: 1/(1+ε); class 2: npig 1, no detections → 0; class 3: npig 0 → −1, left out.
    const mean = (1 / (1 + EPS) + 0) / 2;
    expectStats(
      stats,
      { AP: 0.5, AP50: 0.5, AP75: 0.5, APs: 0.5, APm: -1, APl: -1, AR1: 0.5, AR10: 0.5, AR100: 0.5 },
      { AP: mean, AP50: mean, APs: mean, AR1: 0.5, AR100: 0.5 },
    );
    expect(perClass.map((c) => [c.categoryId, c.name])).toEqual([[1, "class1"], [2, "class2"], [3, "class3"]]);
    expect(perClass[0]!.AP).toBeCloseTo(1, 12);
    expect(perClass[1]).toMatchObject({ AP: 0, AP50: 0, AP75: 0, AR100: 0 });
    expect(perClass[2]).toMatchObject({ AP: -1, AP50: -1, AP75: -1, AR100: -1 });
  });

  it("D: area ranges judge each object on its own range", () => {
    const gt = gtOf([{ bbox: [0, 0, 20, 20] }, { bbox: [100, 100, 50, 50] }, { bbox: [150, 0, 120, 120] }]);
    const dt = [det([0, 0, 20, 20], 0.9), det([150, 0, 120, 120], 0.8)];
    const { stats } = cocoEvaluate(gt, dt);
    // all: two TPs of three GT → pr = [1/(1+ε), 1] → envelope 1 up to rc = 2/3 → 67/101.
    // small: the large detection matches its (ignored there) GT → ignored; one TP of one → 1.
    // medium: both detections match GT ignored in that range → nothing left → 0.
    // large: mirror of small → 1. AR1: the top detection finds 1 of 3.
    const ap = 67 / 101;
    expectStats(
      stats,
      { AP: 0.663366, AP50: 0.663366, AP75: 0.663366, APs: 1, APm: 0, APl: 1, AR1: 0.333333, AR10: 0.666667, AR100: 0.666667 },
      { AP: ap, AP50: ap, APm: 0, AR1: 1 / 3, AR10: 2 / 3, AR100: 2 / 3, ARs: 1, ARm: 0, ARl: 1 },
    );
  });

  it("E: maxDets 1 and 10 cut the per-image list before accumulation", () => {
    const gt = gtOf([{ bbox: [0, 0, 40, 40] }, { bbox: [50, 0, 40, 40] }, { bbox: [100, 0, 40, 40] }]);
    const dt = [det([0, 0, 40, 40], 0.9), det([50, 0, 40, 40], 0.8), det([100, 0, 40, 40], 0.7)];
    const { stats } = cocoEvaluate(gt, dt);
    // Three TPs: the envelope is 1 (2/(2+ε) = 1 exactly) → AP = 1. All boxes are 1600 → medium.
    // AR1 = 1/3 (only the top detection), AR10 = AR100 = 1.
    expectStats(
      stats,
      { AP: 1, AP50: 1, AP75: 1, APs: -1, APm: 1, APl: -1, AR1: 0.333333, AR10: 1, AR100: 1 },
      { AP: 1, APm: 1, AR1: 1 / 3, AR10: 1, AR100: 1 },
    );
  });

  it("F: matching goes in score order, so the worse-fitting, higher-scored box takes the GT", () => {
    const gt = gtOf([{ bbox: [0, 0, 10, 10] }]);
    const dt = [det([0, 0, 10, 6], 0.9), det([0, 0, 10, 9], 0.8)];
    const { stats } = cocoEvaluate(gt, dt);
    // IoUs 60/100 = .6 and 90/100 = .9. t ∈ {.5,.55,.6}: the .9-scored box matches first (TP), the
    // other is an FP after it → AP_t = 1. t ∈ {.65 … .9} (6): FP then TP → pr = [0, ½] → ½.
    // t = .95: no match → 0. AP = (3 + 6·½ + 0)/10 = .6.
    expectStats(stats, { AP: 0.6, AP50: 1, AP75: 0.5 }, { AP: (3 / (1 + EPS) + 3) / 10, AP50: 1 / (1 + EPS), AP75: 0.5 });
  });
});
