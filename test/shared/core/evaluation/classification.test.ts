import { afterAll, describe, expect, it } from "vitest";
import { scoreModels } from "../../../../shared/core/evaluation/evaluate.ts";
import type { EvaluationSample } from "../../../../shared/core/evaluation/types.ts";
import { classificationModel } from "./onnx-models.ts";
import { annotation, raster, releaseModels, samplesOf, underTest } from "./fixtures.ts";

afterAll(releaseModels);

const CLASSES = ["dark", "bright"];

function uniform(itemId: string, red: number, classId: number | null, width = 6, height = 3): EvaluationSample {
  const classifications = classId === null ? [] : [{ classId, className: CLASSES[classId]! }];
  return { itemId, images: { image: raster(width, height, 3, (_x, _y, c) => (c === 0 ? red : 0)) }, annotation: annotation(itemId, width, height, [], classifications), nodata: null };
}

// logits = (0.5 − mean r, mean r − 0.5) with r = red / 255: "bright" when mean red > 127.5.
const BRIGHT_BY_RED = { classes: CLASSES, weights: [-1, 0, 0, 1, 0, 0], bias: [0.5, -0.5] };

// A: red 200, truly bright → bright. B: red 20, truly dark → dark. C: red 150, truly dark → bright.
// Rows GT: dark [1, 1], bright [0, 1]. Accuracy 2/3; dark P 1 R 1/2 F1 2/3; bright P 1/2 R 1 F1 2/3.
const SAMPLES = () => [uniform("a", 200, 1), uniform("b", 20, 0), uniform("c", 150, 0)];

function expectNumbers(s: Awaited<ReturnType<typeof scoreModels>>["scores"][number]) {
  expect(s.primaryMetric.name).toBe("macroF1");
  expect(s.primaryMetric.value).toBeCloseTo(2 / 3, 12);
  expect(s.metrics.accuracy).toBeCloseTo(2 / 3, 12);
  expect(s.confusion?.matrix).toEqual([[1, 1], [0, 1]]);
  expect(s.perClass.map((c) => [c.className, c.support, c.metrics.precision, c.metrics.recall])).toEqual([
    ["dark", 2, 1, 0.5],
    ["bright", 1, 0.5, 1],
  ]);
}

describe("classification evaluator", () => {
  it("scores whole images on a model without a fixed size", async () => {
    const candidate = await underTest("candidate", classificationModel(BRIGHT_BY_RED));
    const result = await scoreModels({ task: "classification", datasetClasses: CLASSES, models: [candidate], samples: samplesOf(SAMPLES()) });
    expectNumbers(result.scores[0]!);
    expect(result.scores[0]!.timings.inferenceCalls).toBe(3);
  });

  it("letterboxes into a fixed-size model and batches", async () => {
    // 6×3 into 4×4: 4×2 of image, 8 pad pixels (114) → mean red = (v + 114) / 2: 157, 67, 132.
    // The decisions stay bright, dark, bright.
    const candidate = await underTest("candidate", classificationModel({ ...BRIGHT_BY_RED, size: [4, 4] }));
    const result = await scoreModels({ task: "classification", datasetClasses: CLASSES, models: [candidate], samples: samplesOf(SAMPLES()), options: { batchSize: 2 } });
    expectNumbers(result.scores[0]!);
    expect(result.scores[0]!.timings.inferenceCalls).toBe(2);
  });

  it("skips items without a classification label and says so", async () => {
    const candidate = await underTest("candidate", classificationModel(BRIGHT_BY_RED));
    const result = await scoreModels({
      task: "classification", datasetClasses: CLASSES, models: [candidate],
      samples: samplesOf([...SAMPLES(), uniform("unlabelled", 90, null)]),
    });
    expect(result.itemCount).toBe(3);
    expect(result.skippedItems).toEqual([{ itemId: "unlabelled", reason: expect.stringMatching(/no classification label/) }]);
    expectNumbers(result.scores[0]!);
  });
});
