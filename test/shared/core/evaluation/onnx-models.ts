import { OnnxGraph } from "../../../../shared/adapters/onnx/onnx-builder.ts";
import { ModelCardSchema, type ModelCard } from "../../../../shared/core/models/model-card.ts";

/**
 * Tiny ONNX models for evaluator tests, built in-process with the project's ONNX builder. Each
 * returns the bytes and a matching model card, so tests can check numbers they derive by hand.
 */

type Dim = number | string;

export interface PixelModelOptions {
  name?: string;
  classes: string[];
  channels?: ("red" | "green" | "blue" | "nir")[];
  /** Per-class weights over the input channels, row-major [C × B]. */
  weights: number[];
  bias?: number[];
  /** Fixed input size, or null for any size. */
  size?: [height: number, width: number] | null;
  /** Fixed batch size, or "N". */
  batch?: Dim;
  scale?: number;
}

function inputShape(b: number, o: PixelModelOptions): Dim[] {
  const [h, w] = o.size ?? ["H", "W"];
  return [o.batch ?? "N", b, h, w];
}

function card(o: PixelModelOptions, task: ModelCard["task"], output: { name: string; format: ModelCard["output"]["format"] }, extra: Record<string, unknown> = {}): ModelCard {
  const channels = o.channels ?? ["red", "green", "blue"];
  return ModelCardSchema.parse({
    name: o.name ?? `${task}-${output.format}`,
    task,
    classes: o.classes,
    input: {
      name: "input", layout: "NCHW", height: o.size?.[0] ?? null, width: o.size?.[1] ?? null, channels,
      normalisation: { scale: o.scale ?? 1 / 255 },
      ...extra,
    },
    output,
  });
}

/** 1×1 convolution: logits[c] = Σ_b weights[c][b]·x_b + bias[c], per pixel ([N,C,H,W]). */
export function segmentationLogitsModel(o: PixelModelOptions): { bytes: Uint8Array; card: ModelCard } {
  const b = (o.channels ?? ["red", "green", "blue"]).length;
  const c = o.classes.length;
  const g = new OnnxGraph("seg-logits");
  g.addInput("input", "float32", inputShape(b, o));
  g.addInitializer("w", Float32Array.from(o.weights), [c, b, 1, 1]);
  g.addInitializer("b", Float32Array.from(o.bias ?? new Array<number>(c).fill(0)), [c]);
  g.addNode("Conv", ["input", "w", "b"], ["logits"]);
  const [h, w] = o.size ?? ["H", "W"];
  g.addOutput("logits", "float32", [o.batch ?? "N", c, h, w]);
  return { bytes: g.toBytes(), card: card(o, "segmentation", { name: "logits", format: "logits" }) };
}

/** The same convolution followed by ArgMax over channels: int64 labels [N,H,W]. */
export function segmentationLabelsModel(o: PixelModelOptions): { bytes: Uint8Array; card: ModelCard } {
  const b = (o.channels ?? ["red", "green", "blue"]).length;
  const c = o.classes.length;
  const g = new OnnxGraph("seg-labels");
  g.addInput("input", "float32", inputShape(b, o));
  g.addInitializer("w", Float32Array.from(o.weights), [c, b, 1, 1]);
  g.addInitializer("b", Float32Array.from(o.bias ?? new Array<number>(c).fill(0)), [c]);
  g.addNode("Conv", ["input", "w", "b"], ["scores"]);
  g.addNode("ArgMax", ["scores"], ["labels"], { axis: 1, keepdims: 0 });
  const [h, w] = o.size ?? ["H", "W"];
  g.addOutput("labels", "int64", [o.batch ?? "N", h, w]);
  return { bytes: g.toBytes(), card: card(o, "segmentation", { name: "labels", format: "labels" }) };
}

/** 1×1 convolution then global average pooling: logits [N,C] = weights · mean(x) + bias. */
export function classificationModel(o: PixelModelOptions): { bytes: Uint8Array; card: ModelCard } {
  const b = (o.channels ?? ["red", "green", "blue"]).length;
  const c = o.classes.length;
  const g = new OnnxGraph("cls");
  g.addInput("input", "float32", inputShape(b, o));
  g.addInitializer("w", Float32Array.from(o.weights), [c, b, 1, 1]);
  g.addInitializer("b", Float32Array.from(o.bias ?? new Array<number>(c).fill(0)), [c]);
  g.addNode("Conv", ["input", "w", "b"], ["scores"]);
  g.addNode("GlobalAveragePool", ["scores"], ["pooled"]);
  g.addNode("Flatten", ["pooled"], ["logits"], { axis: 1 });
  g.addOutput("logits", "float32", [o.batch ?? "N", c]);
  return { bytes: g.toBytes(), card: card(o, "classification", { name: "logits", format: "logits" }) };
}

/**
 * A detector whose output is a constant `[1, rows, cols]` tensor (any input), broadcast to the
 * batch: `input → mean → ×0 → + constant`, so the graph still consumes its input.
 */
export function constantDetectionModel(o: {
  classes: string[];
  size: [number, number];
  format: "yolo_raw" | "nms";
  /** Row-major [rows × cols] values of one image's output. */
  values: number[];
  rows: number;
  cols: number;
  scoreThreshold?: number;
  nmsIou?: number;
}): { bytes: Uint8Array; card: ModelCard } {
  const g = new OnnxGraph("det");
  g.addInput("input", "float32", ["N", 3, o.size[0], o.size[1]]);
  g.addInitializer("constant", Float32Array.from(o.values), [1, o.rows, o.cols]);
  g.addInitializer("zero", Float32Array.from([0]), [1]);
  g.addInitializer("axes", BigInt64Array.from([1n, 2n]), [2]);
  g.addNode("ReduceMean", ["input"], ["mean"], { axes: [1, 2, 3], keepdims: 0 });
  g.addNode("Mul", ["mean", "zero"], ["nothing"]);
  g.addNode("Unsqueeze", ["nothing", "axes"], ["n11"]);
  g.addNode("Add", ["n11", "constant"], ["output"]);
  g.addOutput("output", "float32", ["N", o.rows, o.cols]);
  const output: Record<string, unknown> = { name: "output", format: o.format };
  if (o.scoreThreshold !== undefined) output.scoreThreshold = o.scoreThreshold;
  if (o.nmsIou !== undefined) output.nmsIou = o.nmsIou;
  return {
    bytes: g.toBytes(),
    card: ModelCardSchema.parse({
      name: `det-${o.format}`, task: "detection", classes: o.classes,
      input: { name: "input", layout: "NCHW", height: o.size[0], width: o.size[1], channels: ["red", "green", "blue"], letterboxPad: 114 },
      output,
    }),
  };
}
