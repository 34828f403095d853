import { afterAll, describe, expect, it } from "vitest";
import { scoreModels } from "../../../../shared/core/evaluation/evaluate.ts";
import { detectionTruth } from "../../../../shared/core/evaluation/detection.ts";
import type { EvaluationSample } from "../../../../shared/core/evaluation/types.ts";
import { constantDetectionModel } from "./onnx-models.ts";
import { annotation, box, raster, releaseModels, samplesOf, underTest } from "./fixtures.ts";

afterAll(releaseModels);

const CLASSES = ["car", "truck"];

/**
 * A 128×64 image letterboxed into a 64×64 model: scale 0.5, no horizontal padding, 16 rows of
 * padding on top. Ground truth: a car at [10,10,20,20] and a truck at [60,20,40,30] (x, y, w, h).
 * In model pixels (xyxy) the car is [5,21,15,31] and the truck [30,26,50,41].
 */
function scene(): EvaluationSample {
  return {
    itemId: "street",
    images: { image: raster(128, 64, 3, () => 90) },
    annotation: annotation("street", 128, 64, [box("c", 0, "car", 10, 10, 20, 20), box("t", 1, "truck", 60, 20, 40, 30)]),
    nodata: null,
  };
}

describe("detection ground truth", () => {
  it("turns boxes, polygons and masks into COCO boxes with COCO areas", () => {
    const sample = scene();
    sample.annotation = annotation("s", 4, 3, [
      box("b", 0, "car", 1, 1, 2, 1),
      { id: "p", kind: "polygon", classId: 1, className: "truck", polygon: [[0, 0, 4, 0, 4, 2]] },
      // Row-major mask over 4×3: pixels 5, 6 (row 1, cols 1–2) set.
      { id: "m", kind: "mask", classId: 0, className: "car", mask: { counts: [5, 2, 5] } },
      { id: "u", kind: "box", classId: null, className: "bus", box: { x: 0, y: 0, w: 1, h: 1 } },
    ]);
    const truth = detectionTruth(sample, 2, 7);
    expect(truth.imageId).toBe(7);
    expect(truth.boxes).toEqual([
      { bbox: [1, 1, 2, 1], area: 2, classId: 0, iscrowd: false },
      // Triangle (0,0)-(4,0)-(4,2): bounds 4×2, area 4.
      { bbox: [0, 0, 4, 2], area: 4, classId: 1, iscrowd: false },
      { bbox: [1, 1, 2, 1], area: 2, classId: 0, iscrowd: false },
    ]);
  });
});

describe("detection evaluator", () => {
  it("scores post-NMS output [N,K,6] mapped back through the letterbox (COCO AP by hand)", async () => {
    // Rows: a false truck at [0,16,4,20] (image [0,0,8,8]) scoring 0.95, the exact car 0.9, the
    // exact truck 0.8, and an all-zero padding row.
    const model = constantDetectionModel({
      classes: CLASSES, size: [64, 64], format: "nms", rows: 4, cols: 6,
      values: [0, 16, 4, 20, 0.95, 1, 5, 21, 15, 31, 0.9, 0, 30, 26, 50, 41, 0.8, 1, 0, 0, 0, 0, 0, 0],
    });
    const candidate = await underTest("candidate", model);
    const result = await scoreModels({ task: "detection", datasetClasses: CLASSES, models: [candidate], samples: samplesOf([scene()]) });
    const s = result.scores[0]!;
    // car: one TP → AP 1. truck: FP (0.95) then TP (0.8) → precision envelope 0.5 at every recall
    // threshold → AP 0.5 at every IoU threshold. mAP = (1 + 0.5) / 2.
    // COCOeval divides by tp + fp + ε, so "1" comes out as 1 − 2e-16: compare to 12 places.
    expect(s.primaryMetric.name).toBe("AP");
    expect(s.primaryMetric.value).toBeCloseTo(0.75, 12);
    expect(s.metrics.AP50).toBeCloseTo(0.75, 12);
    expect(s.perClass.map((c) => [c.className, c.support])).toEqual([["car", 1], ["truck", 1]]);
    expect(s.perClass[0]!.value).toBeCloseTo(1, 12);
    expect(s.perClass[1]!.value).toBeCloseTo(0.5, 12);
    expect(s.perClass[1]!.metrics.recall).toBe(1);
    expect(s.confusion).toBeNull();
  });

  it("decodes raw YOLO output [N,4+C,A] with NMS before scoring", async () => {
    // Anchors (cx, cy, w, h in model pixels; then car, truck scores):
    //   0: the exact car, 0.9; 1: the car shifted 0.5 px right, 0.95 (IoU with anchor 0 is
    //   95/105 = 0.905 > 0.7, so NMS keeps this one and drops anchor 0); 2: the exact truck, 0.8.
    // Car: one detection with IoU 0.905 → TP for thresholds .50–.90, missed at .95 → AP 9/10.
    // Truck: exact → AP 1. mAP = 0.95, AP50 = 1.
    const anchors = [
      [10, 26, 10, 10, 0.9, 0],
      [10.5, 26, 10, 10, 0.95, 0],
      [40, 33.5, 20, 15, 0, 0.8],
    ];
    const values = [0, 1, 2, 3, 4, 5].flatMap((row) => anchors.map((a) => a[row]!));
    const model = constantDetectionModel({ classes: CLASSES, size: [64, 64], format: "yolo_raw", rows: 6, cols: 3, values });
    const candidate = await underTest("candidate", model);
    const result = await scoreModels({ task: "detection", datasetClasses: CLASSES, models: [candidate], samples: samplesOf([scene()]) });
    const s = result.scores[0]!;
    expect(s.primaryMetric.value).toBeCloseTo(0.95, 12);
    expect(s.metrics.AP50).toBeCloseTo(1, 12);
    expect(s.perClass[0]!.value).toBeCloseTo(0.9, 12);
    expect(s.perClass[1]!.value).toBeCloseTo(1, 12);
  });

  it("averages a champion's AP over the classes it knows", async () => {
    // The champion only knows trucks; its exact truck detection gives AP 1 over its one class.
    const model = constantDetectionModel({ classes: ["truck"], size: [64, 64], format: "nms", rows: 1, cols: 6, values: [30, 26, 50, 41, 0.8, 0] });
    const champion = await underTest("champion", model);
    const result = await scoreModels({ task: "detection", datasetClasses: CLASSES, models: [champion], samples: samplesOf([scene()]) });
    expect(result.scores[0]!.primaryMetric.value).toBeCloseTo(1, 12);
    expect(result.scores[0]!.perClass).toEqual([expect.objectContaining({ className: "truck", value: expect.closeTo(1, 12), support: 1 })]);
  });
});
