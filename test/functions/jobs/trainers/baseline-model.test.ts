import { describe, expect, it } from "vitest";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { buildBaselineCard, buildBaselineOnnx, warmStartFrom } from "../../../../functions/jobs/trainers/baseline-model.ts";
import { validateSessionAgainstCard } from "../../../../shared/adapters/onnx/validate.ts";
import { forward, initWeights, viewsOf, type MlpShape } from "../../../../shared/core/training/mlp.ts";
import { SeededRng } from "../../../../shared/core/training/rng.ts";

const shape: MlpShape = { inputs: 4, hidden: 16, classes: 6 };
const CLASSES = ["background", "land", "water", "thick_cloud", "thin_cloud", "cloud_shadow"];

function randomWeights(seed: number): Float64Array {
  const rng = new SeededRng(seed);
  const w = initWeights(shape, rng);
  for (let k = 0; k < w.length; k++) w[k]! += rng.normal() * 0.2; // non-zero biases
  return w;
}

function card() {
  return buildBaselineCard({
    classes: CLASSES,
    channels: ["red", "green", "blue", "nir"],
    normalisation: { mean: [0.1, 0.2, 0.3, 0.4], std: [0.5, 0.5, 0.5, 0.5] },
    params: { epochs: 3 },
    versionId: "v".repeat(64),
    line: "default",
    createdAt: "2025-01-01T00:00:00.000Z",
  });
}

describe("baseline ONNX export", () => {
  it("computes the same logits as the TypeScript forward pass on an image of any size", async () => {
    const weights = randomWeights(1);
    const session = await InferenceSession.create(buildBaselineOnnx(shape, weights));
    const rng = new SeededRng(2);
    for (const [h, w] of [[5, 7], [1, 1], [16, 3]] as const) {
      const pixels = h * w;
      const nchw = Float32Array.from({ length: 4 * pixels }, () => rng.normal());
      const out = await session.run({ input: new Tensor("float32", nchw, [1, 4, h, w]) });
      const logits = out.logits!;
      expect(logits.dims).toEqual([1, 6, h, w]);
      // The TS model takes one row of 4 features per pixel: transpose NCHW → pixel-major.
      const rows = new Float64Array(pixels * 4);
      for (let p = 0; p < pixels; p++) for (let c = 0; c < 4; c++) rows[p * 4 + c] = nchw[c * pixels + p]!;
      const expected = forward(shape, weights, rows, pixels);
      const got = logits.data as Float32Array;
      for (let p = 0; p < pixels; p++) {
        for (let c = 0; c < 6; c++) {
          const e = expected[p * 6 + c]!;
          expect(Math.abs(got[c * pixels + p]! - e)).toBeLessThan(1e-5 + 1e-5 * Math.abs(e));
        }
      }
    }
    validateSessionAgainstCard(session, card());
    await session.release();
  });

  it("writes a segmentation card that consumes 0–255 pixels through its normalisation", () => {
    const c = card();
    expect(c.task).toBe("segmentation");
    expect(c.input).toMatchObject({ name: "input", layout: "NCHW", height: null, width: null, channels: ["red", "green", "blue", "nir"], dtype: "float32" });
    expect(c.input.normalisation.scale).toBeCloseTo(1 / 255, 15);
    expect(c.output).toMatchObject({ name: "logits", format: "logits" });
    expect(c.trainer).toEqual({ name: "baseline-mlp", version: "1", params: { epochs: 3 } });
    expect(c.dataset).toEqual({ versionId: "v".repeat(64), line: "default" });
  });
});

describe("warmStartFrom", () => {
  it("carries the hidden layer over and classifier rows by class name", () => {
    const baseWeights = randomWeights(3);
    const base = { card: card(), onnx: buildBaselineOnnx(shape, baseWeights) };
    // The new ontology drops "background", reorders, and adds "snow".
    const classes = ["water", "land", "snow", "thick_cloud", "thin_cloud", "cloud_shadow"];
    const result = warmStartFrom(base, shape, classes, ["red", "green", "blue", "nir"], 7);
    if (!result.ok) throw new Error(result.reason);
    const was = viewsOf(shape, baseWeights);
    const now = viewsOf(shape, result.weights);
    expect(Array.from(now.w1)).toEqual(Array.from(Float32Array.from(was.w1)));
    expect(Array.from(now.b1)).toEqual(Array.from(Float32Array.from(was.b1)));
    // "water" was class 2, now class 0; "land" stays 1.
    expect(Array.from(now.w2.subarray(0, 16))).toEqual(Array.from(Float32Array.from(was.w2.subarray(2 * 16, 3 * 16))));
    expect(now.b2[0]).toBe(Math.fround(was.b2[2]!));
    expect(now.b2[1]).toBe(Math.fround(was.b2[1]!));
    expect(result.reusedClasses).toEqual(["water", "land", "thick_cloud", "thin_cloud", "cloud_shadow"]);
    expect(result.normalisation).toEqual({ mean: [0.1, 0.2, 0.3, 0.4], std: [0.5, 0.5, 0.5, 0.5] });
  });

  it("refuses a base model it cannot build on, with the reason", () => {
    const base = { card: card(), onnx: buildBaselineOnnx(shape, randomWeights(3)) };
    const threeBands = warmStartFrom(base, { ...shape, inputs: 3 }, CLASSES, ["red", "green", "blue"], 1);
    expect(threeBands).toEqual({ ok: false, reason: "base model reads red,green,blue,nir, this dataset gives red,green,blue" });
    const wider = warmStartFrom(base, { ...shape, hidden: 32 }, CLASSES, ["red", "green", "blue", "nir"], 1);
    expect(wider.ok).toBe(false);
    const other = warmStartFrom({ ...base, card: { ...card(), trainer: { name: "yolo" } } }, shape, CLASSES, ["red", "green", "blue", "nir"], 1);
    expect(other).toEqual({ ok: false, reason: "base model was trained by yolo" });
  });
});
