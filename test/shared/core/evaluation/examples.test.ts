import { afterAll, describe, expect, it } from "vitest";
import { scoreModels } from "../../../../shared/core/evaluation/evaluate.ts";
import {
  CLASS_PALETTE, ExtremesSelector, NODATA_VALUE, OUT_OF_RANGE_VALUE, colouriseMask, sampleGrid,
} from "../../../../shared/core/evaluation/examples.ts";
import { EvaluationReportSchema, ExamplesSchema } from "../../../../shared/core/evaluation/report.ts";
import type { EvaluationSample, EvaluatorOptions } from "../../../../shared/core/evaluation/types.ts";
import { segmentationLabelsModel, segmentationLogitsModel } from "./onnx-models.ts";
import { CLOUD_BY_RED, SCENE_RED, annotation, box, raster, releaseModels, samplesOf, underTest } from "./fixtures.ts";

afterAll(releaseModels);

const entry = (itemId: string, score: number) => ({ itemId, score });
const ids = (list: { itemId: string }[]) => list.map((e) => e.itemId);

describe("worst and best item selection", () => {
  const items = [entry("e", 0.5), entry("a", 0.9), entry("c", 0.1), entry("b", 0.9), entry("d", 0.1), entry("f", 0.7), entry("g", 0.3)];

  it("keeps the k lowest and k highest scores, ties by item id, whatever the arrival order", () => {
    const orders = [items, [...items].reverse(), [items[3]!, items[0]!, items[6]!, items[1]!, items[5]!, items[2]!, items[4]!]];
    for (const order of orders) {
      const selector = new ExtremesSelector<{ itemId: string; score: number }>(2);
      for (const e of order) selector.offer(e);
      const { worst, best } = selector.result();
      // One total order (score, then id): the worst are its first two, the best its last two, best first.
      expect(ids(worst)).toEqual(["c", "d"]);
      expect(ids(best)).toEqual(["b", "a"]);
    }
  });

  it("shows no item twice when fewer than 2k items were scored", () => {
    const selector = new ExtremesSelector<{ itemId: string; score: number }>(3);
    for (const e of items.slice(0, 3)) selector.offer(e);
    const { worst, best } = selector.result();
    expect(ids(worst)).toEqual(["c", "e"]);
    expect(ids(best)).toEqual(["a"]);
    const one = new ExtremesSelector<{ itemId: string; score: number }>(3);
    one.offer(entry("x", 0.2));
    expect(one.result()).toEqual({ worst: [entry("x", 0.2)], best: [] });
  });

  it("ignores items without a finite score and keeps nothing with k = 0", () => {
    const selector = new ExtremesSelector<{ itemId: string; score: number }>(2);
    selector.offer(entry("nan", Number.NaN));
    selector.offer(entry("ok", 0.4));
    expect(selector.result()).toEqual({ worst: [entry("ok", 0.4)], best: [] });
    const none = new ExtremesSelector<{ itemId: string; score: number }>(0);
    for (const e of items) none.offer(e);
    expect(none.result()).toEqual({ worst: [], best: [] });
  });

  it("holds at most k entries per side however many items stream past", () => {
    const selector = new ExtremesSelector<{ itemId: string; score: number }>(3);
    for (let i = 0; i < 10_000; i++) selector.offer(entry(`item-${String(i).padStart(5, "0")}`, (i * 7919) % 1000 / 1000));
    const { worst, best } = selector.result();
    expect(worst.map((e) => e.score)).toEqual([0, 0, 0]);
    expect(best.map((e) => e.score)).toEqual([0.999, 0.999, 0.999]);
    expect(ids(worst)).toEqual(["item-00000", "item-01000", "item-02000"]);
  });
});

describe("example pictures", () => {
  it("samples large items down to 128 px a side and never upscales small ones", () => {
    const big = sampleGrid(1000, 250);
    expect([big.width, big.height]).toEqual([128, 32]);
    expect(Math.max(...big.xs)).toBeLessThan(1000);
    expect(Math.max(...big.ys)).toBeLessThan(250);
    const small = sampleGrid(4, 2);
    expect([small.width, small.height, [...small.xs], [...small.ys]]).toEqual([4, 2, [0, 1, 2, 3], [0, 1]]);
  });

  it("colours classes with the fixed palette, no-data black and unknown predictions magenta", () => {
    const mask = raster(4, 1, 1, (x) => [0, 1, NODATA_VALUE, OUT_OF_RANGE_VALUE][x]!);
    const rgb = Array.from(colouriseMask(mask).data);
    const hex = (h: string) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
    expect(rgb).toEqual([...hex(CLASS_PALETTE[0]), ...hex(CLASS_PALETTE[1]), 0, 0, 0, 255, 0, 255]);
    // A prediction over a pixel the label marks as no-data is drawn as no-data.
    const label = raster(4, 1, 1, (x) => (x === 0 ? NODATA_VALUE : 0));
    expect(Array.from(colouriseMask(mask, label).data.slice(0, 3))).toEqual([0, 0, 0]);
  });
});

describe("the examples in the report schema", () => {
  const example = { itemId: "i", score: 0.5, pixelAccuracy: 0.8, width: 4, height: 2, sourceWidth: 4, sourceHeight: 2, input: "gs://m/e/examples/a.png", label: "gs://m/e/examples/b.png", prediction: "gs://m/e/examples/c.png" };
  const examples = { metric: "mIoU", worst: [example], best: [], palette: { classes: ["#9aa5b1"], nodata: "#000000", outOfRange: "#ff00ff" } };

  it("accepts examples and refuses one without its prediction picture", () => {
    expect(ExamplesSchema.parse(examples)).toEqual(examples);
    const { prediction: _, ...noPrediction } = example;
    expect(ExamplesSchema.safeParse({ ...examples, worst: [noPrediction] }).success).toBe(false);
    expect(ExamplesSchema.safeParse({ ...examples, worst: [{ ...example, width: 0 }] }).success).toBe(false);
  });

  it("still reads a report written before examples existed", () => {
    const model = {
      role: "candidate", modelId: "m", uri: "gs://m/", name: "n", classes: ["a"], outputFormat: "logits", primaryMetric: { name: "mIoU", value: 1 },
      metrics: {}, perClassMetric: "IoU", perClass: [], confusion: null, selfReported: null,
      timings: { inferenceMs: 0, totalMs: 0, inferenceCalls: 0, items: 0, pixels: 0, pixelsPerSecond: null },
    };
    const report = {
      schema: "evaluation-report/v1", evaluationId: "e", createdAt: "2026-03-01T00:00:00.000Z", task: "segmentation",
      evaluation: { datasetUri: "gs://d/m.json", versionId: "v", line: "l", split: "eval", itemCount: 0, classes: ["a"], skippedItems: [], candidate: model, champion: null },
      benchmark: null, newClasses: [], removedClasses: [], discrepancies: [], warnings: [],
    };
    expect(EvaluationReportSchema.safeParse(report).success).toBe(true);
    expect(EvaluationReportSchema.safeParse({ ...report, evaluation: { ...report.evaluation, candidate: { ...model, examples } } }).success).toBe(true);
  });
});

/** The 4×2 scene's label with a chosen red channel: the cloud model predicts cloud where red > 127. */
function sampleWithRed(itemId: string, red: readonly number[]): EvaluationSample {
  return {
    itemId,
    images: { image: raster(4, 2, 3, (x, y, c) => (c === 0 ? red[y * 4 + x]! : 0)) },
    annotation: annotation(itemId, 4, 2, [box("a", 1, "cloud", 1, 0, 2, 1), box("b", 1, "cloud", 0, 1, 1, 1)]),
    nodata: raster(4, 2, 1, (x, y) => (x === 3 && y === 1 ? 255 : 0)),
  };
}

const PERFECT = [0, 200, 200, 0, 255, 0, 0, 0];
const INVERSE = [255, 0, 0, 255, 0, 255, 255, 0];

describe("the segmentation evaluator's examples", () => {
  const samples = () => [
    sampleWithRed("inverse-e", INVERSE), sampleWithRed("perfect-a", PERFECT), sampleWithRed("scene-c", SCENE_RED),
    sampleWithRed("inverse-d", INVERSE), sampleWithRed("perfect-b", PERFECT),
  ];

  async function examplesOf(model: Parameters<typeof underTest>[1], options: EvaluatorOptions) {
    const candidate = await underTest("candidate", model);
    const result = await scoreModels({ task: "segmentation", datasetClasses: ["background", "cloud"], models: [candidate], samples: samplesOf(samples()), options });
    return result.scores[0]!;
  }

  const cases: [string, Parameters<typeof underTest>[1], EvaluatorOptions][] = [
    ["whole images, logits", segmentationLogitsModel(CLOUD_BY_RED), {}],
    // Fixed 2×3 input batched by 4: tiles of one item are consumed in a later batch than it was added in.
    ["fixed-size tiles batched across items, labels", segmentationLabelsModel({ ...CLOUD_BY_RED, size: [2, 3] }), { batchSize: 4 }],
    ["padded tiles, logits", segmentationLogitsModel(CLOUD_BY_RED), { tileSize: 3, tileMultiple: 2 }],
  ];

  for (const [name, model, options] of cases) {
    it(`ranks items by their own mIoU and keeps input, label and prediction pictures (${name})`, async () => {
      const s = await examplesOf(model, { ...options, examplesPerSide: 2 });
      // The split's numbers are unchanged by the per-item bookkeeping: 2 perfect + scene + 2 all wrong.
      expect(s.confusion?.matrix).toEqual([[8 + 3 + 0, 0 + 1 + 8], [0 + 0 + 6, 6 + 3 + 0]]);
      const { worst, best } = s.examples!;
      expect(worst.map((e) => [e.itemId, e.score])).toEqual([["inverse-d", 0], ["inverse-e", 0]]);
      expect(best.map((e) => [e.itemId, e.score])).toEqual([["perfect-b", 1], ["perfect-a", 1]]);
      const perfect = best[0]!;
      expect(perfect.pixelAccuracy).toBe(1);
      expect([perfect.input.width, perfect.input.height, perfect.input.channels]).toEqual([4, 2, 3]);
      expect(Array.from(perfect.label.data)).toEqual([0, 1, 1, 0, 1, 0, 0, NODATA_VALUE]);
      // The prediction of every pixel, the nodata one included (the picture blanks it, not the raster).
      expect(Array.from(perfect.prediction.data)).toEqual([0, 1, 1, 0, 1, 0, 0, 0]);
      expect(Array.from(worst[0]!.prediction.data)).toEqual([1, 0, 0, 1, 0, 1, 1, 0]);
      expect(Array.from(perfect.input.data.filter((_, i) => i % 3 === 0))).toEqual(PERFECT);
    });
  }

  it("marks a prediction of a class the dataset lacks as out of range", async () => {
    // A model whose second class is unknown to the dataset: its "snow" pixels are out of range.
    const s = await examplesOf(segmentationLogitsModel({ ...CLOUD_BY_RED, classes: ["background", "snow"] }), { examplesPerSide: 1 });
    const best = s.examples!.best[0]!;
    expect(Array.from(best.prediction.data)).toContain(OUT_OF_RANGE_VALUE);
  });
});
