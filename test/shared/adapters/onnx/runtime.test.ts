import { describe, expect, it } from "vitest";
import { Tensor } from "onnxruntime-node";
import { PermanentError } from "../../../../shared/errors.ts";
import { loadModel, toModelOutput } from "../../../../shared/adapters/onnx/runtime.ts";
import { ModelCardSchema } from "../../../../shared/core/models/model-card.ts";
import { segmentationLabelsModel, segmentationLogitsModel } from "../../core/evaluation/onnx-models.ts";

// logits[c] = w[c] · (r, g, b) per pixel, with w = [[1, 0, 0], [0, 1, 0]].
const twoClass = { classes: ["a", "b"], weights: [1, 0, 0, 0, 1, 0] };

describe("loadModel", () => {
  it("runs a batch and returns float logits with their dims", async () => {
    const { bytes, card } = segmentationLogitsModel(twoClass);
    const model = await loadModel({ modelBytes: bytes, card, fuseArgmax: false });
    try {
      // N=1, C=3, H=1, W=2: pixel 0 = (1, 2, 3), pixel 1 = (5, 4, 0).
      const out = await model.run(Float32Array.from([1, 5, 2, 4, 3, 0]), [1, 3, 1, 2]);
      expect(out.dims).toEqual([1, 2, 1, 2]);
      expect(out.data).toBeInstanceOf(Float32Array);
      expect(Array.from(out.data)).toEqual([1, 5, 2, 4]);
      expect(model.maxBatch).toBeGreaterThan(1);
    } finally {
      await model.release();
    }
  });

  it("fuses the argmax of segmentation logits into the graph: labels out, same answer, original format reported", async () => {
    const { bytes, card } = segmentationLogitsModel({ classes: ["a", "b", "c"], weights: [1, 0, 0, 0, 1, 0, 0, 0, 1] });
    const fused = await loadModel({ modelBytes: bytes, card });
    try {
      expect(fused.card.output.format).toBe("labels");
      expect(fused.originalOutputFormat).toBe("logits");
      // Pixels (r, g, b): (1, 2, 3) → c; (5, 4, 0) → a; (2, 7, 7) → b (tie: the first maximum wins).
      const out = await fused.run(Float32Array.from([1, 5, 2, 2, 4, 7, 3, 0, 7]), [1, 3, 1, 3]);
      expect(out.data).toBeInstanceOf(Int32Array);
      expect(out.dims).toEqual([1, 1, 3]);
      expect(Array.from(out.data)).toEqual([2, 0, 1]);
    } finally {
      await fused.release();
    }
  });

  it("narrows int64 labels (ArgMax) to Int32Array", async () => {
    const { bytes, card } = segmentationLabelsModel(twoClass);
    const model = await loadModel({ modelBytes: bytes, card });
    try {
      const out = await model.run(Float32Array.from([1, 5, 2, 4, 3, 0]), [1, 3, 1, 2]);
      expect(out.data).toBeInstanceOf(Int32Array);
      expect(out.dims).toEqual([1, 1, 2]);
      expect(Array.from(out.data)).toEqual([1, 0]);
    } finally {
      await model.release();
    }
  });

  it("pads partial batches for a fixed ONNX batch size and returns only the real rows", async () => {
    const { bytes, card } = segmentationLogitsModel({ ...twoClass, size: [1, 1], batch: 3 });
    const model = await loadModel({ modelBytes: bytes, card, fuseArgmax: false });
    try {
      expect(model.maxBatch).toBe(3);
      // Two images of one pixel each: (1, 2, 0) and (7, 3, 0).
      const out = await model.run(Float32Array.from([1, 2, 0, 7, 3, 0]), [2, 3, 1, 1]);
      expect(out.dims).toEqual([2, 2, 1, 1]);
      expect(Array.from(out.data)).toEqual([1, 2, 7, 3]);
    } finally {
      await model.release();
    }
  });

  it("refuses a model that does not match its card", async () => {
    const { bytes, card } = segmentationLogitsModel(twoClass);
    const lying = ModelCardSchema.parse({ ...card, input: { ...card.input, channels: ["red", "green", "blue", "nir"] } });
    await expect(loadModel({ modelBytes: bytes, card: lying })).rejects.toMatchObject({ code: "model_card_mismatch" });
  });

  it("turns an inference failure into a PermanentError naming the model and input", async () => {
    const { bytes, card } = segmentationLogitsModel(twoClass);
    const model = await loadModel({ modelBytes: bytes, card });
    try {
      const err = await model.run(new Float32Array(8), [1, 4, 1, 2]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PermanentError);
      expect((err as PermanentError).message).toMatch(/segmentation-logits.*\[1,4,1,2\]/);
    } finally {
      await model.release();
    }
  });

  it("reports a missing model file as a PermanentError", async () => {
    const { card } = segmentationLogitsModel(twoClass);
    await expect(loadModel({ modelPath: "/nonexistent/model.onnx", card })).rejects.toMatchObject({ code: "model_not_found" });
  });
});

describe("toModelOutput", () => {
  it("converts float16 bits to float32", () => {
    // 0x3C00 = 1.0, 0xC000 = −2.0, 0x3800 = 0.5
    const t = new Tensor("float16", Uint16Array.from([0x3c00, 0xc000, 0x3800]), [3]);
    expect(Array.from(toModelOutput(t).data)).toEqual([1, -2, 0.5]);
  });

  it("converts uint8 class ids to Int32Array", () => {
    const out = toModelOutput(new Tensor("uint8", Uint8Array.from([3, 0]), [1, 2]));
    expect(out.data).toBeInstanceOf(Int32Array);
    expect(Array.from(out.data)).toEqual([3, 0]);
  });
});
