import { describe, expect, it } from "vitest";
import { Tensor } from "onnxruntime-node";
import { OnnxGraph, type OnnxDim, type OnnxElemType } from "../../../../shared/adapters/onnx/onnx-builder.ts";
import { loadAndValidate, parseModelCard, validateSessionAgainstCard, type SessionLike } from "../../../../shared/adapters/onnx/validate.ts";
import { PermanentError } from "../../../../shared/errors.ts";
import { ModelCardSchema, type ModelCard } from "../../../../shared/core/models/model-card.ts";

type CardInput = Parameters<typeof ModelCardSchema.parse>[0];

function card(overrides: { task?: ModelCard["task"]; classes?: string[]; input?: Partial<ModelCard["input"]>; output?: Partial<ModelCard["output"]> } = {}): ModelCard {
  return ModelCardSchema.parse({
    name: "test",
    task: overrides.task ?? "segmentation",
    classes: overrides.classes ?? ["background", "water", "cloud"],
    input: { name: "input", layout: "NCHW", height: null, width: null, channels: ["red", "green", "blue", "nir"], ...overrides.input },
    output: { name: "logits", format: "logits", ...overrides.output },
  } as CardInput);
}

/** A session description with metadata, as onnxruntime reports it. */
function session(input: { name?: string; type?: string; shape: OnnxDim[] }, output: { name?: string; type?: string; shape: OnnxDim[] }): SessionLike {
  const inName = input.name ?? "input";
  const outName = output.name ?? "logits";
  return {
    inputNames: [inName],
    outputNames: [outName],
    inputMetadata: [{ name: inName, isTensor: true, type: input.type ?? "float32", shape: input.shape }],
    outputMetadata: [{ name: outName, isTensor: true, type: output.type ?? "float32", shape: output.shape }],
  };
}

function mismatch(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe("model_card_mismatch");
    return (err as Error).message;
  }
  throw new Error("expected a model_card_mismatch");
}

/** A real model: input → Conv 1×1 → output, with the given dims. */
function identityConvModel(inDims: OnnxDim[], outChannels: number, inType: OnnxElemType = "float32"): Uint8Array {
  const g = new OnnxGraph();
  const inChannels = inDims[1] as number;
  g.addInput("input", inType, inDims);
  let source = "input";
  if (inType !== "float32") {
    g.addNode("Cast", ["input"], ["x"], { to: 1 });
    source = "x";
  }
  g.addInitializer("w", new Float32Array(outChannels * inChannels).fill(1), [outChannels, inChannels, 1, 1]);
  g.addNode("Conv", [source, "w"], ["logits"]);
  g.addOutput("logits", "float32", ["N", outChannels, inDims[2]!, inDims[3]!]);
  return g.toBytes();
}

describe("validateSessionAgainstCard", () => {
  it("accepts a segmentation model that matches its card", () => {
    expect(() => validateSessionAgainstCard(session({ shape: ["N", 4, "H", "W"] }, { shape: ["N", 3, "H", "W"] }), card())).not.toThrow();
  });

  it("reports a missing input and output name with what the model has", () => {
    const message = mismatch(() =>
      validateSessionAgainstCard(session({ name: "images", shape: ["N", 4, "H", "W"] }, { name: "out", shape: ["N", 3, "H", "W"] }), card()),
    );
    expect(message).toContain('input "input" is not in the model (model inputs: "images")');
    expect(message).toContain('output "logits" is not in the model (model outputs: "out")');
  });

  it("reports a channel count that disagrees with the card", () => {
    const message = mismatch(() => validateSessionAgainstCard(session({ shape: ["N", 3, "H", "W"] }, { shape: ["N", 3, "H", "W"] }), card()));
    expect(message).toMatch(/has 3 channels on the NCHW channel axis but the card lists 4 \(red, green, blue, nir\)/);
  });

  it("reports a layout mix-up and hints at the other layout", () => {
    const nhwcModel = session({ shape: [1, 64, 64, 4] }, { shape: ["N", 3, "H", "W"] });
    const message = mismatch(() => validateSessionAgainstCard(nhwcModel, card({ input: { height: 64, width: 64 } })));
    expect(message).toContain("it looks like NHWC");
    // The same model described as NHWC is fine.
    expect(() => validateSessionAgainstCard(nhwcModel, card({ input: { layout: "NHWC", height: 64, width: 64 } }))).not.toThrow();
  });

  it("reports fixed sizes the card does not declare, and size disagreements", () => {
    const fixed = session({ shape: [1, 4, 256, 256] }, { shape: [1, 3, 256, 256] });
    expect(mismatch(() => validateSessionAgainstCard(fixed, card()))).toMatch(/fixed height of 256 but the card says any size/);
    expect(mismatch(() => validateSessionAgainstCard(fixed, card({ input: { height: 256, width: 512 } })))).toMatch(/width 256 but the card says 512/);
  });

  it("reports a dtype difference", () => {
    const message = mismatch(() => validateSessionAgainstCard(session({ type: "uint8", shape: ["N", 4, "H", "W"] }, { shape: ["N", 3, "H", "W"] }), card()));
    expect(message).toContain('input "input" is uint8 but the card says float32');
  });

  it("checks output rank and class count per format", () => {
    const logitsModel = session({ shape: ["N", 4, "H", "W"] }, { shape: ["N", 3, "H", "W"] });
    // A labels card on a logits-shaped output: rank 4 is not [N,H,W].
    expect(mismatch(() => validateSessionAgainstCard(logitsModel, card({ output: { format: "labels" } })))).toMatch(/rank 4 .* segmentation labels output is \[N,H,W\]/);
    // Class count on axis 1.
    expect(mismatch(() => validateSessionAgainstCard(logitsModel, card({ classes: ["a", "b"] })))).toMatch(/has 3 on axis 1, expected 2/);
    // Labels must be integers.
    const labelsFloat = session({ shape: ["N", 4, "H", "W"] }, { type: "float32", shape: ["N", "H", "W"] });
    expect(mismatch(() => validateSessionAgainstCard(labelsFloat, card({ output: { format: "labels" } })))).toMatch(/integer class ids/);
    const labelsInt = session({ shape: ["N", 4, "H", "W"] }, { type: "int64", shape: ["N", "H", "W"] });
    expect(() => validateSessionAgainstCard(labelsInt, card({ output: { format: "labels" } }))).not.toThrow();
  });

  it("checks detection and classification output shapes", () => {
    const det = (format: "yolo_raw" | "nms") => card({ task: "detection", input: { height: 640, width: 640 }, output: { name: "out", format } });
    const input = { shape: [1, 4, 640, 640] };
    // 3 classes: yolo_raw needs 4 + 3 = 7 rows.
    expect(() => validateSessionAgainstCard(session(input, { name: "out", shape: [1, 7, 8400] }), det("yolo_raw"))).not.toThrow();
    expect(mismatch(() => validateSessionAgainstCard(session(input, { name: "out", shape: [1, 8, 8400] }), det("yolo_raw")))).toMatch(/expected 7 = 4\+C/);
    expect(mismatch(() => validateSessionAgainstCard(session(input, { name: "out", shape: [1, 7, 80, 80] }), det("yolo_raw")))).toMatch(/rank 4/);
    expect(() => validateSessionAgainstCard(session(input, { name: "out", shape: [1, "K", 6] }), det("nms"))).not.toThrow();
    expect(mismatch(() => validateSessionAgainstCard(session(input, { name: "out", shape: [1, 100, 5] }), det("nms")))).toMatch(/last dimension 5/);

    const cls = card({ task: "classification", input: { height: 224, width: 224 } });
    const clsInput = { shape: ["N", 4, 224, 224] };
    expect(() => validateSessionAgainstCard(session(clsInput, { shape: ["N", 3] }), cls)).not.toThrow();
    expect(mismatch(() => validateSessionAgainstCard(session(clsInput, { shape: ["N", 3, 1, 1] }), cls))).toMatch(/classification logits output is \[N,C\]/);
  });

  it("checks only names when the session has no metadata", () => {
    const bare: SessionLike = { inputNames: ["input"], outputNames: ["logits"] };
    expect(() => validateSessionAgainstCard(bare, card())).not.toThrow();
    expect(mismatch(() => validateSessionAgainstCard({ ...bare, outputNames: ["probs"] }, card()))).toContain('output "logits" is not in the model');
  });
});

describe("loadAndValidate", () => {
  it("returns a working session for a matching model", async () => {
    const s = await loadAndValidate(identityConvModel(["N", 4, "H", "W"], 3), card());
    const out = await s.run({ input: new Tensor("float32", new Float32Array(4 * 2).fill(1), [1, 4, 1, 2]) });
    // All weights 1, four channels of 1 → every logit is 4.
    expect(Array.from(out.logits!.data as Float32Array)).toEqual([4, 4, 4, 4, 4, 4]);
    await s.release();
  });

  it("refuses a real model whose metadata disagrees with the card", async () => {
    await expect(loadAndValidate(identityConvModel(["N", 3, "H", "W"], 3), card())).rejects.toMatchObject({ code: "model_card_mismatch" });
    await expect(loadAndValidate(identityConvModel(["N", 4, "H", "W"], 3, "uint8"), card())).rejects.toThrow(/is uint8 but the card says float32/);
    await expect(loadAndValidate(identityConvModel(["N", 4, "H", "W"], 5), card())).rejects.toThrow(/has 5 on axis 1, expected 3/);
  });

  it("turns unloadable bytes into invalid_model", async () => {
    await expect(loadAndValidate(new TextEncoder().encode("not a model"), card())).rejects.toMatchObject({ name: "PermanentError", code: "invalid_model" });
  });
});

describe("parseModelCard", () => {
  it("parses a valid card and rejects an invalid one with the reason", () => {
    expect(parseModelCard({ ...card() }).classes).toEqual(["background", "water", "cloud"]);
    expect(() => parseModelCard({ name: "x", task: "segmentation", classes: [] })).toThrow(PermanentError);
    expect(() => parseModelCard({ ...card(), output: { name: "o", format: "nms" } })).toThrow(/segmentation models output logits or labels, not nms/);
  });
});
