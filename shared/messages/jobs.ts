import * as z from "zod";
import { PermanentError } from "../errors.ts";
import { summariseIssues } from "./build.ts";
import { JOBS } from "../deployables.ts";

/**
 * The contracts between the launcher (shared/core/usecases/training.ts) and the two jobs
 * (functions/jobs/train.ts, functions/jobs/evaluate.ts): the environment of an execution, the exit
 * codes a job ends with, and the platform limits both sides plan for. The launcher encodes with
 * `trainJobEnv` / `evaluateJobEnv` (which parse what they built, so a launch never starts a job that
 * would refuse its own input) and the jobs decode with `parseTrainJobEnv` / `parseEvaluateJobEnv`.
 */

/**
 * Cloud Run stops a task that uses a GPU after at most one hour ("For tasks using GPUs, the maximum
 * available timeout is 1 hour", run/docs/configuring/task-timeout). Longer training runs resume
 * from their checkpoints in the next task attempt or execution.
 */
export const GPU_TASK_TIMEOUT_MAX_SECONDS = 3600;

/**
 * Task retries inside one execution (each job's `maxRetries` in shared/deployables.ts, which
 * Terraform reads for `max_retries`; Cloud Run's
 * default is 3, range 0–10, run/docs/configuring/max-retries). A task attempt ended by host
 * maintenance (GPU tasks are not live-migrated), a timeout, the memory limit or a transient error
 * (exit 1) is retried by Cloud Run and resumes from the checkpoints; when the retries run out,
 * reconcile starts a new execution, up to TRAIN_MAX_ATTEMPTS executions per run.
 */
export const JOB_MAX_RETRIES = { train: JOBS.train.maxRetries, evaluate: JOBS.evaluate.maxRetries, predict: JOBS.predict.maxRetries } as const;

/** Task timeout of an evaluation (GPU: at most an hour). */
export const EVALUATE_TIMEOUT_SECONDS = GPU_TASK_TIMEOUT_MAX_SECONDS;

/**
 * Exit codes of both jobs. Cloud Run retries a task on any non-zero exit, so the codes are read by
 * reconcile (from the execution's last task attempt) once the retries are spent:
 *
 * - 0   done: the result is written and announced, or a permanent failure is recorded
 *       (`failure.json`) and announced (`training.failed` / `evaluation.failed`).
 * - 1   transient trouble (storage, publishing): worth another attempt.
 * - 2   bad input that could not be announced: permanent, the run or evaluation fails.
 * - 143 stopped by SIGTERM (timeout, host maintenance, shutdown) after saving checkpoints.
 */
export const JOB_EXIT = { ok: 0, retry: 1, badInput: 2, terminated: 143 } as const;

/** 128 + signal: how a shell reports a child killed by SIGKILL (memory limit) or stopped by SIGTERM. */
export const EXIT_SIGKILL = 137;
export const EXIT_SIGTERM = 143;

/**
 * How a team's trainer says "bad input, retrying cannot help": exit 2 (the usage-error code of
 * argparse and the shells) or a sysexits code from EX_USAGE (64) to EX_CONFIG (78). Any other
 * non-zero exit, and any signal, is treated as a crash that may not recur: the run resumes from its
 * checkpoint, up to TRAIN_MAX_ATTEMPTS.
 */
export const TRAINER_EXIT_BAD_INPUT = 2;

export function isTrainerBadInputExit(code: number | null): boolean {
  return code === TRAINER_EXIT_BAD_INPUT || (code !== null && code >= 64 && code <= 78);
}

/**
 * What the training job leaves under OUTPUT_PREFIX when it fails (`failure.json`), next to the
 * `training.failed` message it publishes with the same content: reconcile resends the message from
 * this record when the execution ended and the message never arrived (or could not be published).
 */
export const TRAINING_FAILURE_FILE = "failure.json";

export const TrainingFailureRecordSchema = z.object({
  runId: z.string().min(1),
  attempt: z.number().int().positive(),
  reason: z.string(),
  resumable: z.boolean(),
  messageId: z.string().min(1),
});

export type TrainingFailureRecord = z.infer<typeof TrainingFailureRecordSchema>;

// ---------------------------------------------------------------------------------------------
// Environment schemas

const gsUri = z.string().regex(/^gs:\/\/[a-z0-9][a-z0-9._-]*\/.+/, "a gs://bucket/name URI");
export const gsPrefix = z.string().regex(/^gs:\/\/[a-z0-9][a-z0-9._-]*\/.*$/, "a gs://bucket/prefix/ URI");
export const positiveInt = z.coerce.number().int().positive();

const jsonObjectText = z.string().transform((s, ctx) => {
  try {
    const value = JSON.parse(s) as unknown;
    if (value && typeof value === "object" && !Array.isArray(value)) return s;
    ctx.addIssue({ code: "custom", message: "must be a JSON object" });
  } catch (e) {
    ctx.addIssue({ code: "custom", message: `not valid JSON (${(e as Error).message})` });
  }
  return z.NEVER;
});

/**
 * Trainers the train image carries, chosen with `TRAINER_COMMAND=builtin:<name>`: `baseline` (the
 * TypeScript per-pixel MLP, also what an unset TRAINER_COMMAND runs) and `unet` (the reference
 * PyTorch U-Net, infra/jobs/train/unet/train_unet.py; needs PyTorch in the trainer image). Any
 * other TRAINER_COMMAND is a shell command: the team's own trainer.
 */
export const BUILTIN_TRAINER_PREFIX = "builtin:";
export const BUILTIN_TRAINERS = ["baseline", "unet"] as const;
export type BuiltinTrainer = (typeof BUILTIN_TRAINERS)[number];

/** The built-in trainer a TRAINER_COMMAND names, or null for a shell command. */
export function builtinTrainerOf(command: string): BuiltinTrainer | null {
  if (!command.startsWith(BUILTIN_TRAINER_PREFIX)) return null;
  const name = command.slice(BUILTIN_TRAINER_PREFIX.length).trim();
  return (BUILTIN_TRAINERS as readonly string[]).includes(name) ? (name as BuiltinTrainer) : null;
}

const trainerCommand = z
  .string()
  .min(1)
  .refine((c) => !c.startsWith(BUILTIN_TRAINER_PREFIX) || builtinTrainerOf(c) !== null, {
    message: `names no built-in trainer (have ${BUILTIN_TRAINERS.map((t) => BUILTIN_TRAINER_PREFIX + t).join(", ")})`,
  });

/** The training job's inputs (docs/jobs.md). */
export const TrainJobEnvSchema = z.object({
  RUN_ID: z.string().min(1).max(200),
  /** Which execution of the run this is (1-based): failure messages name it, so a stale one is ignored. */
  RUN_ATTEMPT: positiveInt.max(1000).default(1),
  DATASET_URI: gsUri,
  BASE_MODEL_URI: gsPrefix.optional(),
  PARAMS: jsonObjectText.default("{}"),
  OUTPUT_PREFIX: gsPrefix.refine((s) => s.endsWith("/"), "must end with /"),
  TRAINER_COMMAND: trainerCommand.optional(),
});

export type TrainJobEnv = z.infer<typeof TrainJobEnvSchema>;

/** `auto` (CUDA when a GPU is visible, else CPU) or an explicit list such as `cuda,cpu` or `cpu`. */
export const ExecutionProvidersSchema = z
  .string()
  .regex(/^(auto|[a-z]+(,[a-z]+)*)$/, "auto, or a comma-separated list of onnxruntime execution providers (cuda,cpu)");

/** The evaluation job's inputs (docs/jobs.md). Model ids default to their URIs. */
export const EvaluateJobEnvSchema = z.object({
  EVALUATION_ID: z.string().min(1).max(150),
  /** A prefix holding model.onnx, model.json and optionally metrics.json. */
  CANDIDATE_MODEL_URI: gsPrefix,
  CHAMPION_MODEL_URI: gsPrefix.optional(),
  CANDIDATE_MODEL_ID: z.string().min(1).optional(),
  CHAMPION_MODEL_ID: z.string().min(1).optional(),
  /** The dataset version's manifest.json. */
  DATASET_URI: gsUri,
  /** Where report.json, summary.md, summary.html and per-class.svg are written. */
  REPORT_PREFIX: gsPrefix,
  BENCHMARK_DATASET_URI: gsUri.optional(),
  CORRELATION_ID: z.string().min(1).max(200).optional(),
  EVAL_BATCH_SIZE: positiveInt.max(256).optional(),
  EVAL_TILE_SIZE: positiveInt.max(8192).optional(),
  /** Set on the job (infra), not per launch: which onnxruntime execution providers to try. */
  ONNX_EXECUTION_PROVIDERS: ExecutionProvidersSchema.default("auto"),
});

export type EvaluateJobEnv = z.infer<typeof EvaluateJobEnvSchema>;

/** Empty strings count as unset, as in `loadConfig`. */
export function cleaned(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ""));
}

export function parseTrainJobEnv(env: Readonly<Record<string, string | undefined>>): TrainJobEnv {
  const parsed = TrainJobEnvSchema.safeParse(cleaned(env));
  if (!parsed.success) throw new PermanentError("invalid_job_env", `training job environment: ${summariseIssues(parsed.error.issues)}`);
  return parsed.data;
}

export function parseEvaluateJobEnv(env: Readonly<Record<string, string | undefined>>): EvaluateJobEnv {
  const parsed = EvaluateJobEnvSchema.safeParse(cleaned(env));
  if (!parsed.success) throw new PermanentError("invalid_job_env", `evaluation job environment: ${summariseIssues(parsed.error.issues)}`);
  return parsed.data;
}

// ---------------------------------------------------------------------------------------------
// What the launcher builds

export interface TrainJobInput {
  runId: string;
  attempt: number;
  datasetUri: string;
  outputPrefix: string;
  params: Record<string, unknown>;
  baseModelUri?: string | null;
  trainerCommand?: string | null;
}

/** The env overrides of a training execution; refuses (PermanentError) what the job would refuse. */
export function trainJobEnv(input: TrainJobInput): Record<string, string> {
  const env: Record<string, string> = {
    RUN_ID: input.runId,
    RUN_ATTEMPT: String(input.attempt),
    DATASET_URI: input.datasetUri,
    OUTPUT_PREFIX: input.outputPrefix,
    PARAMS: JSON.stringify(input.params),
  };
  if (input.baseModelUri) env.BASE_MODEL_URI = input.baseModelUri;
  if (input.trainerCommand) env.TRAINER_COMMAND = input.trainerCommand;
  parseTrainJobEnv(env);
  return env;
}

export interface EvaluateJobInput {
  evaluationId: string;
  candidate: { id: string; uri: string };
  champion: { id: string; uri: string } | null;
  datasetUri: string;
  reportPrefix: string;
  benchmarkDatasetUri?: string | null;
  correlationId?: string | null;
}

/** The env overrides of an evaluation execution (ONNX_EXECUTION_PROVIDERS stays the job's own). */
export function evaluateJobEnv(input: EvaluateJobInput): Record<string, string> {
  const env: Record<string, string> = {
    EVALUATION_ID: input.evaluationId,
    CANDIDATE_MODEL_ID: input.candidate.id,
    CANDIDATE_MODEL_URI: input.candidate.uri,
    DATASET_URI: input.datasetUri,
    REPORT_PREFIX: input.reportPrefix,
  };
  if (input.champion) {
    env.CHAMPION_MODEL_ID = input.champion.id;
    env.CHAMPION_MODEL_URI = input.champion.uri;
  }
  if (input.benchmarkDatasetUri) env.BENCHMARK_DATASET_URI = input.benchmarkDatasetUri;
  if (input.correlationId) env.CORRELATION_ID = input.correlationId;
  parseEvaluateJobEnv(env);
  return env;
}
