import { afterAll, describe, expect, it } from "vitest";
import { scoreModels } from "../../../../shared/core/evaluation/evaluate.ts";
import { GROUND_TRUTH_IGNORE, segmentationTruth } from "../../../../shared/core/evaluation/segmentation.ts";
import type { EvaluatorOptions, ModelScores } from "../../../../shared/core/evaluation/types.ts";
import type { ModelCard } from "../../../../shared/core/models/model-card.ts";
import { segmentationLabelsModel, segmentationLogitsModel, type PixelModelOptions } from "./onnx-models.ts";
import { loadModel } from "../../../../shared/adapters/onnx/runtime.ts";
import { CLOUD_BY_RED, box, releaseModels, samplesOf, sceneSample, underTest } from "./fixtures.ts";

afterAll(releaseModels);

const CLASSES = ["background", "cloud"];

async function score(model: { bytes: Uint8Array; card: ModelCard }, options: EvaluatorOptions = {}, samples = [sceneSample()]) {
  const candidate = await underTest("candidate", model);
  const result = await scoreModels({ task: "segmentation", datasetClasses: CLASSES, models: [candidate], samples: samplesOf(samples), options });
  return result.scores[0]!;
}

function expectSceneNumbers(s: ModelScores, items = 1) {
  expect(s.primaryMetric).toEqual({ name: "mIoU", value: 0.75 });
  expect(s.metrics.pixelAccuracy).toBeCloseTo(6 / 7, 12);
  expect(s.perClass.map((c) => [c.className, c.value, c.support / items])).toEqual([["background", 0.75, 4], ["cloud", 0.75, 3]]);
  expect(s.confusion?.matrix).toEqual([[3 * items, 1 * items], [0, 3 * items]]);
}

describe("segmentation ground truth", () => {
  it("rasterises the label and marks nodata pixels with the ignore value", () => {
    const truth = segmentationTruth(sceneSample(), 2);
    expect(Array.from(truth.raster)).toEqual([0, 1, 1, 0, 1, 0, 0, GROUND_TRUTH_IGNORE]);
  });
});

describe("segmentation evaluator", () => {
  const logits: PixelModelOptions = CLOUD_BY_RED;

  it("scores a logits model on the hand-computed scene", async () => {
    const s = await score(segmentationLogitsModel(logits));
    expectSceneNumbers(s);
    expect(s.timings).toMatchObject({ items: 1, pixels: 8, inferenceCalls: 1 });
  });

  it("scores a labels model (ArgMax inside the graph) the same", async () => {
    expectSceneNumbers(await score(segmentationLabelsModel(logits)));
  });

  it("gives the same numbers when the image is tiled and tiles are padded to a multiple", async () => {
    // 3-pixel tiles padded to multiples of 2: tiles 3×2 (run as 4×2) and 1×2 (run as 2×2).
    const s = await score(segmentationLogitsModel(logits), { tileSize: 3, tileMultiple: 2 });
    expectSceneNumbers(s);
    expect(s.timings.inferenceCalls).toBe(2);
  });

  it("batches fixed-size tiles across images and crops the padding", async () => {
    // Fixed 2×3 input: each 4×2 image is two tiles (3 wide, then 1 wide + padding); 3 images → 6 tiles.
    const s = await score(segmentationLogitsModel({ ...logits, size: [2, 3] }), { batchSize: 4 }, [sceneSample("a"), sceneSample("b"), sceneSample("c")]);
    expectSceneNumbers(s, 3);
    expect(s.timings.inferenceCalls).toBe(2);
  });

  it("runs one tile per call when the ONNX batch dimension is fixed at 1", async () => {
    const s = await score(segmentationLabelsModel({ ...logits, size: [2, 2], batch: 1 }), { batchSize: 8 });
    expectSceneNumbers(s);
    expect(s.timings.inferenceCalls).toBe(2);
  });

  it("feeds the NIR band of a product from its NIR image", async () => {
    const nirModel = segmentationLogitsModel({ ...logits, channels: ["nir"], weights: [-1, 1] });
    expectSceneNumbers(await score(nirModel, {}, [sceneSample("p", "product")]));
  });

  it("fails clearly when the model needs a band the item does not have", async () => {
    const nirModel = segmentationLogitsModel({ ...logits, channels: ["nir"], weights: [-1, 1] });
    await expect(score(nirModel)).rejects.toThrow(/needs band "nir" but item scene-1 has image/);
  });

  it("scores candidate and champion on the same samples, mapping classes by name", async () => {
    const candidate = await underTest("candidate", segmentationLogitsModel(logits));
    // Same decision rule with the classes in the opposite order.
    const reversed = await underTest("champion", segmentationLogitsModel({ classes: ["cloud", "background"], weights: [1, 0, 0, -1, 0, 0], bias: [-0.5, 0.5] }));
    const result = await scoreModels({ task: "segmentation", datasetClasses: CLASSES, models: [candidate, reversed], samples: samplesOf([sceneSample()]) });
    expectSceneNumbers(result.scores[0]!);
    const champion = result.scores[1]!;
    expect(champion.primaryMetric.value).toBe(0.75);
    expect(champion.perClass.map((c) => [c.className, c.value])).toEqual([["cloud", 0.75], ["background", 0.75]]);
    expect(result.itemCount).toBe(1);
  });

  it("averages a champion's mIoU over its own classes when the candidate adds one", async () => {
    const champion = await underTest("champion", segmentationLogitsModel({ classes: ["background"], weights: [0, 0, 0] }));
    const result = await scoreModels({ task: "segmentation", datasetClasses: CLASSES, models: [champion], samples: samplesOf([sceneSample()]) });
    const s = result.scores[0]!;
    // Always background: rows [[4,0],[3,0]] → background IoU 4 / (7 + 4 − 4) = 4/7; cloud is not its class.
    expect(s.primaryMetric.value).toBeCloseTo(4 / 7, 12);
    expect(s.perClass).toHaveLength(1);
  });

  it("skips an item whose label cannot be rasterised and says why", async () => {
    const bad = sceneSample("bad");
    bad.annotation = { ...bad.annotation, objects: [{ id: "m", kind: "mask", classId: 1, className: "cloud", mask: { counts: [3, 2] } }] };
    const candidate = await underTest("candidate", segmentationLogitsModel(logits));
    const result = await scoreModels({ task: "segmentation", datasetClasses: CLASSES, models: [candidate], samples: samplesOf([bad, sceneSample()]) });
    expect(result.itemCount).toBe(1);
    expect(result.skippedItems).toEqual([{ itemId: "bad", reason: expect.stringMatching(/mask/) }]);
    expectSceneNumbers(result.scores[0]!);
  });

  it("skips an item whose label names a class id the dataset does not have, says why, and scores the rest", async () => {
    const outOfRange = sceneSample("out-of-range");
    outOfRange.annotation = { ...outOfRange.annotation, objects: [...outOfRange.annotation.objects, box("z", 7, "snow", 0, 0, 1, 1)] };
    for (const fuseArgmax of [true, false]) {
      const runner = await loadModel({ modelBytes: segmentationLogitsModel(logits).bytes, card: segmentationLogitsModel(logits).card, fuseArgmax });
      try {
        const candidate = { role: "candidate" as const, modelId: "c", uri: "gs://models/c/", runner, selfReported: null };
        const result = await scoreModels({ task: "segmentation", datasetClasses: CLASSES, models: [candidate], samples: samplesOf([sceneSample("a"), outOfRange, sceneSample("b")]) });
        expect(result.itemCount).toBe(2);
        expect(result.skippedItems).toEqual([{ itemId: "out-of-range", reason: expect.stringMatching(/^unknown_class: item out-of-range: object z has class id 7, but the dataset has 2 classes/) }]);
        expectSceneNumbers(result.scores[0]!, 2);
      } finally {
        await runner.release();
      }
    }
  });

  it("refuses a model of another task", async () => {
    const candidate = await underTest("candidate", segmentationLogitsModel(logits));
    await expect(scoreModels({ task: "classification", datasetClasses: CLASSES, models: [candidate], samples: samplesOf([]) })).rejects.toMatchObject({ code: "task_mismatch" });
  });
});
