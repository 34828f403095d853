import * as z from "zod";

/**
 * The evaluation report (`report.json` under the evaluation's REPORT_PREFIX). The promote consumer
 * parses it with this schema and feeds it to `decidePromotion`; the dashboard and the Slack message
 * link to the rendered summaries (`render.ts`).
 *
 * Metric values are numbers in [0, 1] or null where a metric is undefined (a class absent from both
 * ground truth and predictions, COCO's −1 sentinel): JSON has no NaN.
 */
const MetricValue = z.number().nullable();

export const PerClassResultSchema = z.object({
  className: z.string(),
  /** Evaluation instances: ground-truth pixels (segmentation), boxes (detection), images (classification). */
  support: z.number().nonnegative(),
  /** The task's per-class metric (see `perClassMetric`). */
  value: MetricValue,
  metrics: z.record(z.string(), MetricValue),
});

export const ConfusionSchema = z.object({
  /** Row and column labels (the dataset's classes). */
  labels: z.array(z.string()),
  /** Rows ground truth, columns prediction. */
  matrix: z.array(z.array(z.number().nonnegative())),
  /** Per ground-truth class: predictions that named no dataset class. */
  outOfRange: z.array(z.number().nonnegative()),
});

export const TimingsSchema = z.object({
  inferenceMs: z.number().nonnegative(),
  totalMs: z.number().nonnegative(),
  inferenceCalls: z.number().int().nonnegative(),
  items: z.number().int().nonnegative(),
  pixels: z.number().nonnegative(),
  pixelsPerSecond: z.number().nullable(),
});

/** One worst or best item: its score and three small PNGs, each named by its SHA-256 (`examples/<sha256>.png`). */
export const ExampleItemSchema = z.object({
  itemId: z.string(),
  /** The item's own score (`ExamplesSchema.metric`), the order of the lists. */
  score: z.number(),
  pixelAccuracy: MetricValue,
  /** Size of the pictures (the item scaled down to at most 128 px a side) and of the item itself. */
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  sourceWidth: z.number().int().positive(),
  sourceHeight: z.number().int().positive(),
  /** The RGB rendering the annotators saw. */
  input: z.string(),
  /** The accepted label, coloured by class (`palette`). */
  label: z.string(),
  /** The model's prediction, coloured the same way; nodata pixels stay nodata. */
  prediction: z.string(),
});

export const ExamplesSchema = z.object({
  metric: z.string(),
  /** Worst first. */
  worst: z.array(ExampleItemSchema),
  /** Best first. */
  best: z.array(ExampleItemSchema),
  /** What the mask colours mean: `classes[id]` is the colour of dataset class `id`. */
  palette: z.object({ classes: z.array(z.string()), nodata: z.string(), outOfRange: z.string() }),
});

export const ModelResultSchema = z.object({
  role: z.enum(["candidate", "champion"]),
  modelId: z.string(),
  uri: z.string(),
  name: z.string(),
  classes: z.array(z.string()),
  outputFormat: z.string(),
  /** The task's headline metric (`mIoU`, `AP` = COCO mAP@[.5:.95], `macroF1`) and its value. */
  primaryMetric: z.object({ name: z.string(), value: MetricValue }),
  /** Every overall metric by name (the policy's `primary_metric.name` is looked up here). */
  metrics: z.record(z.string(), MetricValue),
  /** `IoU`, `AP` or `F1`. */
  perClassMetric: z.string(),
  perClass: z.array(PerClassResultSchema),
  confusion: ConfusionSchema.nullable(),
  timings: TimingsSchema,
  /** The onnxruntime execution provider that ran the model (`cuda`, `cpu`); absent in older reports. */
  executionProvider: z.string().optional(),
  /** The trainer's own metrics.json, as written. */
  selfReported: z.record(z.string(), z.unknown()).nullable(),
  /** Worst and best items as pictures (segmentation, eval split); absent for other tasks and older reports. */
  examples: ExamplesSchema.optional(),
});

export const SkippedItemSchema = z.object({ itemId: z.string(), reason: z.string() });

/** Results of both models on one set of samples (the pinned eval split, or a benchmark set). */
export const SetResultSchema = z.object({
  datasetUri: z.string(),
  /** The dataset version id (manifest SHA-256). */
  versionId: z.string(),
  line: z.string(),
  /** `eval`: the manifest's eval split; `all`: every item (benchmark sets). */
  split: z.enum(["eval", "all"]),
  /** Items scored (skipped items excluded). */
  itemCount: z.number().int().nonnegative(),
  /** The dataset's classes (ground truth is in this class space). */
  classes: z.array(z.string()),
  skippedItems: z.array(SkippedItemSchema),
  candidate: ModelResultSchema,
  champion: ModelResultSchema.nullable(),
});

export const EvaluationReportSchema = z.object({
  schema: z.literal("evaluation-report/v1"),
  evaluationId: z.string().min(1),
  createdAt: z.iso.datetime({ offset: true }),
  task: z.enum(["segmentation", "detection", "classification"]),
  /** The pinned evaluation split: what the promotion policy judges. */
  evaluation: SetResultSchema,
  /** Optional fixed benchmark set, reported alongside (not judged by the policy). */
  benchmark: SetResultSchema.nullable(),
  /** Candidate classes the champion does not know (the policy may tolerate a small drop for them). */
  newClasses: z.array(z.string()),
  /** Classes the champion knows and the candidate dropped. */
  removedClasses: z.array(z.string()),
  /** Human lines: where the trainer's own numbers disagree with ours, and why that can be expected. */
  discrepancies: z.array(z.string()),
  warnings: z.array(z.string()),
});

export type PerClassResult = z.infer<typeof PerClassResultSchema>;
export type ModelResult = z.infer<typeof ModelResultSchema>;
export type ExampleItemResult = z.infer<typeof ExampleItemSchema>;
export type Examples = z.infer<typeof ExamplesSchema>;
export type SetResult = z.infer<typeof SetResultSchema>;
export type EvaluationReport = z.infer<typeof EvaluationReportSchema>;

export { renderPerClassSvg, renderSummaryHtml, renderSummaryMarkdown } from "./render.ts";
