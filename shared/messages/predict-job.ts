import * as z from "zod";
import { PermanentError } from "../errors.ts";
import { summariseIssues } from "./build.ts";
import { JOBS } from "../deployables.ts";
import { ExecutionProvidersSchema, cleaned, gsPrefix, positiveInt } from "./jobs.ts";

/**
 * The contract between the launcher of a batch prediction (shared/core/usecases/predictions.ts)
 * and the predict job (functions/jobs/predict.ts): the environment of an execution and the
 * summary it leaves. Exit codes are the other jobs' (JOB_EXIT in ./jobs.ts).
 */

/** Task timeout of a batch prediction (a CPU job; Cloud Run allows up to 24 h, one hour is plenty per batch). */
export const PREDICT_TIMEOUT_SECONDS = JOBS.predict.timeoutSeconds;

/** Executions per prediction run before it fails (each with the job's own task retries). */
export const MAX_PREDICTION_ATTEMPTS = 3;

/** Written last under OUTPUT_PREFIX: its presence marks the run done (a rerun only republishes). */
export const PREDICTION_SUMMARY_FILE = "summary.json";

/**
 * Written before summary.json: the drift features of at most PREDICTION_DRIFT_SAMPLE predicted
 * inputs, evenly spaced over the inputs, which the run's completion adds to the drift window (a
 * bounded file, so the handler reads a batch of a million inputs in constant memory).
 */
export const PREDICTION_DRIFT_FILE = "drift.json";
export const PREDICTION_DRIFT_SAMPLE = 1000;

/** The predict job's `drift.json`. */
export const PredictionDriftSchema = z.object({
  schema: z.literal("prediction-drift/v1"),
  runId: z.string(),
  alias: z.string(),
  modelId: z.string(),
  /** Predicted inputs in the sample that had band statistics (every raster the normaliser reads). */
  images: z.array(z.object({
    input: z.string(),
    /** The drift features ingest records (shared/core/drift/stats.ts imageFeatures). */
    features: z.record(z.string(), z.number()),
    classFractions: z.record(z.string(), z.number()),
  })).max(PREDICTION_DRIFT_SAMPLE),
  /** Inputs predicted in all, of which `images` is the sample. */
  predicted: z.number().int().nonnegative(),
});

export type PredictionDrift = z.infer<typeof PredictionDriftSchema>;

/** Indices of the inputs whose features go into drift.json: all of them up to the sample size, else evenly spaced. */
export function driftSampleIndices(inputs: number, sample = PREDICTION_DRIFT_SAMPLE): Set<number> {
  const out = new Set<number>();
  if (inputs <= sample) {
    for (let i = 0; i < inputs; i++) out.add(i);
    return out;
  }
  for (let k = 0; k < sample; k++) out.add(Math.floor((k * inputs) / sample));
  return out;
}

/** The prefix of the models bucket the predict job may write (Terraform grants it nothing else there). */
export const PREDICTIONS_PREFIX = "predictions/";

/** The predict job's inputs (docs/jobs.md). The launcher resolves the alias, so the job needs no database. */
export const PredictJobEnvSchema = z.object({
  PREDICTION_RUN_ID: z.string().min(1).max(200),
  RUN_ATTEMPT: positiveInt.max(1000).default(1),
  ALIAS: z.string().min(1).max(63),
  MODEL_ID: z.string().min(1),
  /** The model's prefix (model.onnx, model.json). */
  MODEL_URI: gsPrefix,
  /** Every object under it is predicted. */
  SOURCE_PREFIX: gsPrefix,
  /** `<name>.png` per input and summary.json go here. */
  OUTPUT_PREFIX: gsPrefix.refine((s) => s.endsWith("/"), "must end with /"),
  CORRELATION_ID: z.string().min(1).max(200).optional(),
  /** Inputs predicted at once (memory: each holds one decoded image). */
  PREDICT_CONCURRENCY: positiveInt.max(8).default(2),
  ONNX_EXECUTION_PROVIDERS: ExecutionProvidersSchema.default("cpu"),
});

export type PredictJobEnv = z.infer<typeof PredictJobEnvSchema>;

export function parsePredictJobEnv(env: Readonly<Record<string, string | undefined>>): PredictJobEnv {
  const parsed = PredictJobEnvSchema.safeParse(cleaned(env));
  if (!parsed.success) throw new PermanentError("invalid_job_env", `prediction job environment: ${summariseIssues(parsed.error.issues)}`);
  return parsed.data;
}

export interface PredictJobInput {
  runId: string;
  attempt: number;
  alias: string;
  model: { id: string; uri: string };
  sourcePrefix: string;
  outputPrefix: string;
  correlationId?: string | null;
}

/** The env overrides of a prediction execution (concurrency and providers stay the job's own). */
export function predictJobEnv(input: PredictJobInput): Record<string, string> {
  const env: Record<string, string> = {
    PREDICTION_RUN_ID: input.runId,
    RUN_ATTEMPT: String(input.attempt),
    ALIAS: input.alias,
    MODEL_ID: input.model.id,
    MODEL_URI: input.model.uri,
    SOURCE_PREFIX: input.sourcePrefix,
    OUTPUT_PREFIX: input.outputPrefix,
  };
  if (input.correlationId) env.CORRELATION_ID = input.correlationId;
  parsePredictJobEnv(env);
  return env;
}

/** summary.json of a batch prediction. */
export const PredictionSummarySchema = z.object({
  schema: z.literal("prediction-summary/v1"),
  runId: z.string(),
  alias: z.string(),
  modelId: z.string(),
  sourcePrefix: z.string(),
  outputPrefix: z.string(),
  counts: z.object({ total: z.number().int().nonnegative(), ok: z.number().int().nonnegative(), failed: z.number().int().nonnegative() }),
  /** One entry per predicted input: where its mask went and its class fractions. */
  predictions: z.array(z.object({
    input: z.string(), mask: z.string(), width: z.number().int(), height: z.number().int(), classFractions: z.record(z.string(), z.number()),
  })),
  /** One entry per input that could not be predicted, with the normaliser's (or model's) reason. */
  failures: z.array(z.object({ input: z.string(), code: z.string(), reason: z.string() })),
  /** Share of each class over the valid pixels of every predicted input. */
  classFractions: z.record(z.string(), z.number()),
  finishedAt: z.string(),
});

export type PredictionSummary = z.infer<typeof PredictionSummarySchema>;
