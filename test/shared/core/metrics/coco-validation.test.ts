import { describe, expect, it } from "vitest";
import { PermanentError } from "../../../../shared/errors.ts";
import { cocoEvaluate, parseCocoDetections } from "../../../../shared/core/metrics/coco.ts";
import type { CocoDetectionResult, CocoGroundTruth } from "../../../../shared/core/metrics/coco.ts";
import { CocoGroundTruthSchema, parseCocoGroundTruth } from "../../../../shared/core/metrics/coco-types.ts";

const gt: CocoGroundTruth = {
  images: [{ id: 1 }],
  categories: [{ id: 1, name: "car" }],
  annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], area: 100, iscrowd: 0 }],
};
const good: CocoDetectionResult = { image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], score: 0.5 };

function permanentError(run: () => unknown): PermanentError {
  try {
    run();
  } catch (err) {
    if (err instanceof PermanentError) return err;
    throw err;
  }
  throw new Error("expected a PermanentError");
}

describe("cocoEvaluate — input validation", () => {
  it("rejects a result on an image the ground truth does not have (loadRes asserts this too)", () => {
    const err = permanentError(() => cocoEvaluate(gt, [good, { ...good, image_id: 42 }]));
    expect(err.code).toBe("invalid_coco_results");
    expect(err.message).toContain("detections[1].image_id 42 is not an image of the ground truth");
  });

  it.each([
    ["a negative width", { ...good, bbox: [0, 0, -1, 10] }, "detections[0].bbox[2]"],
    ["a three-number box", { ...good, bbox: [0, 0, 10] }, "detections[0].bbox"],
    ["a missing score", { image_id: 1, category_id: 1, bbox: [0, 0, 1, 1] }, "detections[0].score"],
    ["a fractional image id", { ...good, image_id: 1.5 }, "detections[0].image_id"],
    ["a string category", { ...good, category_id: "1" }, "detections[0].category_id"],
    ["a null entry", null, "detections[0]"],
  ])("names the offending field for %s", (_, bad, path) => {
    const err = permanentError(() => parseCocoDetections([bad]));
    expect(err.code).toBe("invalid_coco_results");
    expect(err.message).toContain(path);
  });

  it("rejects a results file that is not a list", () => {
    expect(permanentError(() => parseCocoDetections({ annotations: [] })).message).toMatch(/must be a JSON list of detections/);
  });

  it("accepts extra keys on results, as loadRes does", () => {
    expect(parseCocoDetections([{ ...good, segmentation: [], id: 7 }])).toHaveLength(1);
  });

  it("rejects ground truth without images, with a bad box, or with a repeated annotation id", () => {
    const noImages = permanentError(() => cocoEvaluate({ ...gt, images: undefined } as unknown as CocoGroundTruth, []));
    expect(noImages.code).toBe("invalid_coco_ground_truth");
    expect(noImages.message).toContain("gt.images");

    const badBox = { ...gt, annotations: [{ ...gt.annotations[0]!, bbox: [0, 0, 10, Number.NaN] as [number, number, number, number] }] };
    expect(permanentError(() => cocoEvaluate(badBox, [])).message).toContain("gt.annotations[0].bbox[3]");

    const repeated = { ...gt, annotations: [gt.annotations[0]!, { ...gt.annotations[0]! }] };
    expect(permanentError(() => cocoEvaluate(repeated, [])).message).toContain("gt.annotations[1].id 1 is used twice");
  });

  it("takes the ground truth's fast path exactly where the schema accepts it", () => {
    const ann = gt.annotations[0]!;
    const cases: unknown[] = [
      gt,
      { ...gt, extra: 1, images: [{ id: 1, file_name: "a.png" }] },
      { ...gt, annotations: [{ ...ann, area: undefined, iscrowd: true }] },
      { ...gt, annotations: [{ ...ann, iscrowd: 2 }] },
      { ...gt, annotations: [{ ...ann, area: -1 }] },
      { ...gt, annotations: [{ ...ann, bbox: [0, 0, 10, Infinity] }] },
      { ...gt, annotations: [{ ...ann, bbox: [0, 0, 10] }] },
      { ...gt, annotations: [{ ...ann, image_id: 2 ** 60 }] },
      { ...gt, annotations: [{ ...ann, category_id: "1" }] },
      { ...gt, images: [{ id: 1.5 }] },
      { ...gt, images: [null] },
      { ...gt, categories: [{ id: 1 }] },
      { ...gt, categories: undefined },
      [gt],
      null,
    ];
    for (const input of cases) {
      const zodAccepts = CocoGroundTruthSchema.safeParse(input).success;
      let ours = true;
      try {
        parseCocoGroundTruth(input);
      } catch (err) {
        expect(err).toBeInstanceOf(PermanentError);
        ours = false;
      }
      expect([JSON.stringify(input), ours]).toEqual([JSON.stringify(input), zodAccepts]);
    }
  });

  it("refuses options COCOeval cannot mean", () => {
    expect(permanentError(() => cocoEvaluate(gt, [], { maxDets: [1, 10, 0] })).code).toBe("invalid_max_dets");
    expect(permanentError(() => cocoEvaluate(gt, [], { iouType: "segm" as "bbox" })).code).toBe("unsupported_iou_type");
  });
});
