import * as z from "zod";

/** int64 fields arrive as strings from GCS (and as numbers from some tools): keep them as strings. */
const Int64String = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(String);

/** A new object (or a new generation of one) in the archive bucket. Also used to ask for a reprocess. */
export const ObjectFinalizedSchema = z.object({
  bucket: z.string().min(1),
  name: z.string().min(1),
  generation: Int64String,
  size: Int64String.optional(),
  contentType: z.string().optional(),
  md5Hash: z.string().optional(),
  crc32c: z.string().optional(),
  timeCreated: z.string().optional(),
  /** Set by the `reprocess` and `backfill` commands: normalise again even if the item exists. */
  reprocess: z.boolean().optional(),
});

export const ItemNormalisedSchema = z.object({
  itemId: z.string().min(1),
});

/** An upload whose bytes equal a live item's: no task of its own (it still ends a burst for `register`). */
export const ItemDuplicateSchema = z.object({
  itemId: z.string().min(1),
  duplicateOf: z.string().min(1),
});

export const ItemsRegisteredSchema = z.object({
  backend: z.string(),
  itemIds: z.array(z.string()).min(1),
});

export const ItemFailedSchema = z.object({
  itemId: z.string(),
  stage: z.enum(["ingest", "register", "poll"]),
  reason: z.string(),
});

export const AnnotationsAcceptedSchema = z.object({
  accepted: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
  itemIds: z.array(z.string()),
});

export const TickSchema = z.object({
  reason: z.enum(["schedule", "command", "startup", "nudge"]).default("schedule"),
  /** `retrain` sets this: freeze a version even below the threshold. */
  force: z.boolean().optional(),
  line: z.string().optional(),
});

export const DatasetVersionCreatedSchema = z.object({
  versionId: z.string(),
  line: z.string(),
  seq: z.number().int().positive(),
  itemCount: z.number().int().nonnegative(),
  manifestUri: z.string(),
});

export const TrainingStartedSchema = z.object({
  runId: z.string(),
  datasetVersionId: z.string(),
  executionName: z.string(),
  attempt: z.number().int().positive(),
});

export const TrainingCompletedSchema = z.object({
  runId: z.string(),
  outputPrefix: z.string(),
  modelUri: z.string(),
  cardUri: z.string(),
  /** The trainer's own metrics (metrics.json), if it wrote any. */
  selfReported: z.record(z.string(), z.unknown()).nullable().default(null),
});

export const TrainingFailedSchema = z.object({
  runId: z.string(),
  reason: z.string(),
  /** True when the failure may not recur (a crash, a trainer killed): resume from the checkpoint. */
  resumable: z.boolean().default(false),
  /** The run attempt (RUN_ATTEMPT) that failed; a failure of an earlier attempt is ignored. */
  attempt: z.number().int().positive().optional(),
});

export const EvaluationCompletedSchema = z.object({
  evaluationId: z.string(),
  candidateModelId: z.string(),
  championModelId: z.string().nullable(),
  reportUri: z.string(),
  summaryUri: z.string(),
});

export const EvaluationFailedSchema = z.object({
  evaluationId: z.string(),
  reason: z.string(),
});

export const ModelPromotedSchema = z.object({
  modelId: z.string(),
  alias: z.string(),
  previousModelId: z.string().nullable(),
  evaluationId: z.string().nullable(),
  actor: z.string(),
  reason: z.string(),
});

export const PromotionReviewRequestedSchema = z.object({
  evaluationId: z.string(),
  modelId: z.string(),
  alias: z.string(),
  reasons: z.array(z.string()),
});

/** The predict job finished: masks and summary.json are under the run's output prefix. */
export const PredictionCompletedSchema = z.object({
  runId: z.string(),
  summaryUri: z.string(),
  ok: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
});

/** The predict job could not run at all (no model file, unusable model, bad environment). */
export const PredictionFailedSchema = z.object({
  runId: z.string(),
  reason: z.string(),
  attempt: z.number().int().positive().optional(),
});

export type ObjectFinalized = z.infer<typeof ObjectFinalizedSchema>;
export type ItemNormalised = z.infer<typeof ItemNormalisedSchema>;
export type ItemsRegistered = z.infer<typeof ItemsRegisteredSchema>;
export type ItemFailed = z.infer<typeof ItemFailedSchema>;
export type ItemDuplicate = z.infer<typeof ItemDuplicateSchema>;
export type AnnotationsAccepted = z.infer<typeof AnnotationsAcceptedSchema>;
export type Tick = z.infer<typeof TickSchema>;
export type DatasetVersionCreated = z.infer<typeof DatasetVersionCreatedSchema>;
export type TrainingStarted = z.infer<typeof TrainingStartedSchema>;
export type TrainingCompleted = z.infer<typeof TrainingCompletedSchema>;
export type TrainingFailed = z.infer<typeof TrainingFailedSchema>;
export type EvaluationCompleted = z.infer<typeof EvaluationCompletedSchema>;
export type EvaluationFailed = z.infer<typeof EvaluationFailedSchema>;
export type ModelPromoted = z.infer<typeof ModelPromotedSchema>;
export type PredictionCompleted = z.infer<typeof PredictionCompletedSchema>;
export type PredictionFailed = z.infer<typeof PredictionFailedSchema>;
export type PromotionReviewRequested = z.infer<typeof PromotionReviewRequestedSchema>;
