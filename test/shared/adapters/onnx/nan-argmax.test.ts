import { describe, expect, it } from "vitest";
import { OnnxGraph } from "../../../../shared/adapters/onnx/onnx-builder.ts";
import { loadModel } from "../../../../shared/adapters/onnx/runtime.ts";
import { argmaxRows } from "../../../../shared/core/metrics/classification.ts";
import { decodeYoloRaw } from "../../../../shared/core/metrics/detection.ts";
import { accumulateLabels, accumulateLogitsRegion, argmaxChannels, createSegmentationConfusion } from "../../../../shared/core/metrics/segmentation.ts";
import { ModelCardSchema } from "../../../../shared/core/models/model-card.ts";

/**
 * NaN counts as −∞ on every argmax path: the argmax onnxruntime runs inside the graph (fused by
 * loadModel) and ours over raw logits must pick the same class for every pixel, NaN or not.
 */

/** Pixels (c0, c1, c2) and the class the −∞ rule picks (ties → lowest channel). */
const PIXELS: [number[], number][] = [
  [[NaN, 1, 2], 2], // a NaN in channel 0 must not win (onnxruntime's own ArgMax lets it)
  [[1, NaN, 0], 0],
  [[0, 1, NaN], 1],
  [[NaN, NaN, NaN], 0], // all −∞: tie → first
  [[NaN, -Infinity, -Infinity], 0], // NaN ties with −∞ → first
  [[-Infinity, NaN, -Infinity], 0],
  [[NaN, -Infinity, 5], 2],
  [[-1, NaN, -1], 0],
  [[3, 7, 7], 1], // ordinary tie → first maximum
];
const EXPECTED = PIXELS.map(([, c]) => c);
const W = PIXELS.length;

/** logits = input (Identity): a [1,3,1,W] tensor is the model's logits as they are. */
function identityLogitsModel() {
  const g = new OnnxGraph("identity-logits");
  g.addInput("input", "float32", ["N", 3, "H", "W"]);
  g.addNode("Identity", ["input"], ["logits"]);
  g.addOutput("logits", "float32", ["N", 3, "H", "W"]);
  const card = ModelCardSchema.parse({
    name: "identity", task: "segmentation", classes: ["a", "b", "c"],
    input: { name: "input", layout: "NCHW", height: null, width: null, channels: ["red", "green", "blue"] },
    output: { name: "logits", format: "logits" },
  });
  return { bytes: g.toBytes(), card };
}

function planes(): Float32Array {
  const data = new Float32Array(3 * W);
  PIXELS.forEach(([values], p) => values.forEach((v, c) => (data[c * W + p] = v)));
  return data;
}

describe("NaN never wins an argmax", () => {
  it("in the argmax fused into the ONNX graph", async () => {
    const { bytes, card } = identityLogitsModel();
    const fused = await loadModel({ modelBytes: bytes, card });
    try {
      expect(fused.originalOutputFormat).toBe("logits");
      const out = await fused.run(planes(), [1, 3, 1, W]);
      expect(out.data).toBeInstanceOf(Int32Array);
      expect(Array.from(out.data)).toEqual(EXPECTED);
    } finally {
      await fused.release();
    }
  });

  it("in the argmax over raw logits, and both paths count the same confusion", async () => {
    const { bytes, card } = identityLogitsModel();
    const raw = await loadModel({ modelBytes: bytes, card, fuseArgmax: false });
    const fused = await loadModel({ modelBytes: bytes, card });
    try {
      const logits = await raw.run(planes(), [1, 3, 1, W]);
      expect(logits.data).toBeInstanceOf(Float32Array);
      expect(Array.from(argmaxChannels(logits.data as Float32Array, logits.dims))).toEqual(EXPECTED);

      // Ground truth: class 2 everywhere. The logits path and the fused labels path must agree.
      const truth = new Uint8Array(W).fill(2);
      const fromLogits = createSegmentationConfusion(3);
      accumulateLogitsRegion(fromLogits, truth, W, { x: 0, y: 0, width: W, height: 1 }, logits.data as Float32Array, 0, 3, W, 1, { ignoreIndex: 255 });
      const fromLabels = createSegmentationConfusion(3);
      accumulateLabels(fromLabels, truth, (await fused.run(planes(), [1, 3, 1, W])).data as Int32Array, { ignoreIndex: 255 });
      expect(Array.from(fromLogits.matrix)).toEqual(Array.from(fromLabels.matrix));
      // Row "2": predictions 0, 1, 2 counted as the rule says.
      expect(Array.from(fromLogits.matrix.subarray(6, 9))).toEqual([0, 1, 2].map((c) => EXPECTED.filter((e) => e === c).length));
    } finally {
      await raw.release();
      await fused.release();
    }
  });

  it("in classification rows", () => {
    const rows = PIXELS.flatMap(([values]) => values);
    expect(Array.from(argmaxRows(Float32Array.from(rows), [W, 3]))).toEqual(EXPECTED);
  });

  it("in YOLO decoding: an anchor with a NaN class score keeps its best real class", () => {
    // One image, 2 classes, 2 anchors: boxes then class rows. Anchor 0 scores (NaN, 0.9), anchor 1 (0.8, NaN).
    const anchors = 2;
    const output = Float32Array.from([
      10, 30, // cx
      10, 30, // cy
      4, 4, // w
      4, 4, // h
      NaN, 0.8, // class 0
      0.9, NaN, // class 1
    ]);
    const [detections] = decodeYoloRaw(output, [1, 6, anchors], { scoreThreshold: 0.25, iouThreshold: 0.5, maxDetections: 10, classAgnostic: false });
    expect(detections!.map((d) => [d.classId, Number(d.score.toFixed(2))])).toEqual([[1, 0.9], [0, 0.8]]);
  });
});
