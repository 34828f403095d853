import type { CanonicalAnnotation } from "../annotation/canonical.ts";
import type { ModelCard } from "../models/model-card.ts";
import type { DecodedRaster } from "../../ports.ts";
import type { ExampleItem, ExampleSelection } from "./examples.ts";

/**
 * What the pure evaluator needs from an inference engine. The onnxruntime-node adapter
 * (`shared/adapters/onnx/runtime.ts`) implements it; tests may pass a fake.
 */
export interface ModelRunner {
  readonly card: ModelCard;
  /**
   * The largest batch the model accepts in one call: 1 when the ONNX batch dimension is fixed at 1
   * or the model is fully convolutional (inputs of different sizes cannot share a batch).
   */
  readonly maxBatch: number;
  /** Runs one batch. `dims` follow the card's layout (NCHW or NHWC). */
  run(input: Float32Array | Uint8Array, dims: readonly number[]): Promise<ModelOutput>;
  /**
   * Set when the runtime appended the argmax of segmentation logits to the graph: `card` then
   * describes the labels output it returns, and this says what the model itself outputs.
   */
  readonly originalOutputFormat?: string;
  /** The inference engine's execution provider that runs the model (`cuda`, `cpu`), when it says. */
  readonly executionProvider?: string;
}

/** Float outputs arrive as Float32Array; integer outputs (labels, int64 included) as Int32Array. */
export interface ModelOutput {
  data: Float32Array | Int32Array;
  dims: number[];
}

/** Decoded images of one item, as the annotation layout stores them. */
export interface ItemImages {
  /** Products: the RGB PNG (red, green, blue) and the NIR PNG. */
  rgb?: DecodedRaster;
  nir?: DecodedRaster;
  /** Plain images: provide red, green and blue. */
  image?: DecodedRaster;
}

/** One evaluation sample: images, the canonical label and the optional nodata mask. */
export interface EvaluationSample {
  itemId: string;
  images: ItemImages;
  annotation: CanonicalAnnotation;
  /** 8-bit mask, 255 where the source had nodata (ignored by segmentation metrics). */
  nodata: DecodedRaster | null;
}

/** A model under evaluation with what the report says about it. */
export interface ModelUnderTest {
  role: "candidate" | "champion";
  modelId: string;
  /** Where the model came from (a gs:// prefix or a local folder). */
  uri: string;
  runner: ModelRunner;
  /** The trainer's own metrics.json, if any. */
  selfReported: Record<string, unknown> | null;
}

/** Milliseconds since some origin (performance.now at the edge; a fake in tests). */
export type Stopwatch = () => number;

export interface EvaluatorOptions {
  /** Edge of the square tiles fully convolutional segmentation models see (default 512). */
  tileSize?: number;
  /** Fully convolutional tiles are padded up to a multiple of this (default 32) for U-Net-like models. */
  tileMultiple?: number;
  /** Largest batch used for fixed-size models (default 8; capped by the model's own limit). */
  batchSize?: number;
  now?: Stopwatch;
  /** Worst and best items kept as pictures per model (segmentation; default 3, 0 keeps none). */
  examplesPerSide?: number;
}

/** One class's result for one model. `value` is the task's per-class metric (IoU, AP or F1). */
export interface PerClassScore {
  className: string;
  /** Evaluation instances of the class: ground-truth pixels, boxes or images. */
  support: number;
  value: number | null;
  metrics: Record<string, number | null>;
}

export interface ModelTimings {
  /** Time inside the model. */
  inferenceMs: number;
  /** Inference plus input building, decoding and metric accumulation for this model. */
  totalMs: number;
  inferenceCalls: number;
  items: number;
  /** Image pixels evaluated (padding excluded). */
  pixels: number;
  pixelsPerSecond: number | null;
}

/** What one model scored on one set of samples. */
export interface ModelScores {
  primaryMetric: { name: string; value: number | null };
  metrics: Record<string, number | null>;
  /** Name of the per-class metric: `IoU`, `AP` or `F1`. */
  perClassMetric: string;
  /** One entry per class the model knows, in the model's class order. */
  perClass: PerClassScore[];
  /** Rows ground truth, columns prediction, in the dataset's class order (null for detection). */
  confusion: { labels: string[]; matrix: number[][]; outOfRange: number[] } | null;
  timings: ModelTimings;
  /** The worst and best items as thumbnails (segmentation only), rendered to PNGs by `examples-write.ts`. */
  examples?: ExampleSelection<ExampleItem>;
}

/** Scores one model sample by sample; `truth` is prepared once per sample and shared by models. */
export interface TaskEvaluator<T> {
  add(sample: EvaluationSample, truth: T): Promise<void>;
  finish(): Promise<ModelScores>;
}
