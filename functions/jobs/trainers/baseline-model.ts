import { OnnxGraph, readFloatInitializers } from "../../../shared/adapters/onnx/onnx-builder.ts";
import { ModelCardSchema, type BandName, type ModelCard } from "../../../shared/core/models/model-card.ts";
import { initWeights, parameterCount, viewsOf, type MlpShape } from "../../../shared/core/training/mlp.ts";
import { SeededRng, deriveSeed } from "../../../shared/core/training/rng.ts";
import { PIXEL_SCALE, type ChannelStats } from "../../../shared/core/training/sampling.ts";
import { IGNORE_LABEL } from "./baseline-data.ts";

/**
 * The baseline's model artefacts: the ONNX graph (a per-pixel MLP as two 1×1 convolutions, so it
 * runs on images of any size), its model card, and warm-starting from a previous baseline model.
 */
export const BASELINE_TRAINER_NAME = "baseline-mlp";
export const BASELINE_TRAINER_VERSION = "1";
export const INPUT_NAME = "input";
export const OUTPUT_NAME = "logits";
const WEIGHT_NAMES = ["hidden.weight", "hidden.bias", "classifier.weight", "classifier.bias"] as const;

/** input [N,C_in,H,W] → Conv 1×1 → Relu → Conv 1×1 → logits [N,classes,H,W]. */
export function buildBaselineOnnx(shape: MlpShape, weights: Float64Array): Uint8Array {
  const { w1, b1, w2, b2 } = viewsOf(shape, weights);
  const g = new OnnxGraph("baseline_mlp");
  g.addInput(INPUT_NAME, "float32", ["N", shape.inputs, "H", "W"]);
  g.addInitializer(WEIGHT_NAMES[0], Float32Array.from(w1), [shape.hidden, shape.inputs, 1, 1]);
  g.addInitializer(WEIGHT_NAMES[1], Float32Array.from(b1), [shape.hidden]);
  g.addInitializer(WEIGHT_NAMES[2], Float32Array.from(w2), [shape.classes, shape.hidden, 1, 1]);
  g.addInitializer(WEIGHT_NAMES[3], Float32Array.from(b2), [shape.classes]);
  g.addNode("Conv", [INPUT_NAME, WEIGHT_NAMES[0], WEIGHT_NAMES[1]], ["hidden_pre"], { kernel_shape: [1, 1] }, "hidden");
  g.addNode("Relu", ["hidden_pre"], ["hidden_act"], {}, "hidden_relu");
  g.addNode("Conv", ["hidden_act", WEIGHT_NAMES[2], WEIGHT_NAMES[3]], [OUTPUT_NAME], { kernel_shape: [1, 1] }, "classifier");
  g.addOutput(OUTPUT_NAME, "float32", ["N", shape.classes, "H", "W"]);
  return g.toBytes({ opset: 17, producer: "mlops-loop", producerVersion: BASELINE_TRAINER_VERSION });
}

export interface CardInputs {
  classes: string[];
  channels: BandName[];
  normalisation: ChannelStats;
  params: Record<string, unknown>;
  versionId: string;
  line: string;
  createdAt: string;
}

export function buildBaselineCard(inputs: CardInputs): ModelCard {
  return ModelCardSchema.parse({
    schema: "model-card/v1",
    name: BASELINE_TRAINER_NAME,
    task: "segmentation",
    classes: inputs.classes,
    input: {
      name: INPUT_NAME,
      layout: "NCHW",
      height: null,
      width: null,
      channels: inputs.channels,
      dtype: "float32",
      normalisation: { scale: PIXEL_SCALE, mean: inputs.normalisation.mean, std: inputs.normalisation.std },
    },
    output: { name: OUTPUT_NAME, format: "logits" },
    ignoreIndex: IGNORE_LABEL,
    trainer: { name: BASELINE_TRAINER_NAME, version: BASELINE_TRAINER_VERSION, params: inputs.params },
    dataset: { versionId: inputs.versionId, line: inputs.line },
    createdAt: inputs.createdAt,
  });
}

export type WarmStart = { ok: true; weights: Float64Array; normalisation: ChannelStats; reusedClasses: string[] } | { ok: false; reason: string };

/**
 * Starting weights from a previous baseline model. The hidden layer carries over when the bands
 * and hidden size agree; classifier rows carry over by class name, so a class added to the
 * ontology starts fresh while the others keep what they learned. The base model's normalisation
 * is kept too: its first layer was trained on inputs standardised that way.
 */
export function warmStartFrom(base: { card: ModelCard; onnx: Uint8Array }, shape: MlpShape, classes: readonly string[], channels: readonly BandName[], seed: number): WarmStart {
  const { card } = base;
  if (card.trainer?.name !== BASELINE_TRAINER_NAME) return { ok: false, reason: `base model was trained by ${card.trainer?.name ?? "an unknown trainer"}` };
  if (card.input.channels.join(",") !== channels.join(",")) return { ok: false, reason: `base model reads ${card.input.channels.join(",")}, this dataset gives ${channels.join(",")}` };
  const { mean, std } = card.input.normalisation;
  if (!mean || !std || Math.abs(card.input.normalisation.scale - PIXEL_SCALE) > 1e-12) return { ok: false, reason: "base model card has no usable normalisation" };
  let tensors;
  try {
    tensors = readFloatInitializers(base.onnx);
  } catch (err) {
    return { ok: false, reason: `cannot read base model weights: ${(err as Error).message}` };
  }
  const [w1, b1, w2, b2] = WEIGHT_NAMES.map((n) => tensors.get(n));
  const baseHidden = b1?.data.length;
  if (!w1 || !b1 || !w2 || !b2 || baseHidden !== shape.hidden || w1.data.length !== shape.hidden * shape.inputs || w2.data.length !== card.classes.length * shape.hidden) {
    return { ok: false, reason: `base model weights do not fit a ${shape.inputs}→${shape.hidden}→${shape.classes} network` };
  }
  const weights = initWeights(shape, new SeededRng(deriveSeed(seed, "init")));
  if (weights.length !== parameterCount(shape)) throw new Error("unreachable: weight count");
  const v = viewsOf(shape, weights);
  v.w1.set(w1.data);
  v.b1.set(b1.data);
  const reusedClasses: string[] = [];
  classes.forEach((name, c) => {
    const k = card.classes.indexOf(name);
    if (k < 0) return;
    v.w2.set(w2.data.subarray(k * shape.hidden, (k + 1) * shape.hidden), c * shape.hidden);
    v.b2[c] = b2.data[k]!;
    reusedClasses.push(name);
  });
  return { ok: true, weights, normalisation: { mean: [...mean], std: [...std] }, reusedClasses };
}
