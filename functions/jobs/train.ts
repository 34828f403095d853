/**
 * The training job (Cloud Run job with a GPU; a child process locally). It turns a dataset version
 * into a validated model under OUTPUT_PREFIX and announces it:
 *
 *   1. `result.json` already there → a duplicate execution or a re-run: republish and stop.
 *   2. Materialise the dataset into DATA_DIR (train split only), the base model, and any
 *      checkpoints an earlier execution of this run left (resume after the one-hour GPU cap).
 *   3. Run the trainer (TRAINER_COMMAND, or the built-in baseline) as a child process, uploading
 *      CHECKPOINT_DIR every 30 s and on SIGTERM.
 *   4. Check model.onnx against model.json, upload everything, write `result.json` LAST, then
 *      publish `training.completed`.
 *
 * Exit codes (JOB_EXIT in shared/messages/jobs.ts) say what should happen next. Cloud Run retries
 * the task on any non-zero exit (up to the job's max_retries), and reconcile reads the last code
 * once the retries are spent:
 *   0   done: result announced, or a failure recorded in failure.json and announced
 *       (`training.failed`, resumable or not);
 *   1   storage/publishing trouble: the retried task resumes from the checkpoints;
 *   2   a permanent failure that could not be announced: reconcile fails the run (failure.json);
 *   143 after SIGTERM (timeout, host maintenance — GPU tasks are not live-migrated —, shutdown),
 *       checkpoints saved: the next attempt resumes from them.
 * A trainer that exits with a bad-input code (2 or sysexits 64–78) or writes an unusable model
 * fails the run; any other trainer exit or signal (a crash, an OOM kill) is announced as resumable.
 * The job never touches the database.
  */
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { PermanentError, describeError } from "../../shared/errors.ts";
import { joinUri } from "../../shared/core/uri.ts";
import { loadAndValidate, parseModelCard } from "../../shared/adapters/onnx/validate.ts";
import { createJobDeps, type JobDeps } from "../../shared/runtime/job-deps.ts";
import { CheckpointSync, listFiles } from "./train/checkpoints.ts";
import { JOB_EXIT, isTrainerBadInputExit, parseTrainJobEnv, type TrainJobEnv } from "../../shared/messages/jobs.ts";
import { publishCompleted, publishFailed, readExistingResult, type TrainingResult } from "./train/announce.ts";
import { downloadBaseModel, materialiseDataset } from "./train/materialise.ts";
import { SECRET_ENV_KEYS, describeTrainerCommand, startTrainer, type TrainerExit } from "./train/trainer-process.ts";

export type TrainingJobDeps = Pick<JobDeps, "store" | "publisher" | "log" | "clock">;

export interface TrainingJobOptions {
  /** How often checkpoints are uploaded while the trainer runs. */
  checkpointIntervalMs?: number;
  /** How long the trainer gets to stop after SIGTERM before it is killed. */
  stopGraceMs?: number;
  /** Where the working folder is created (the OS temp folder by default). */
  tmpRoot?: string;
}

export const EXIT_OK = JOB_EXIT.ok;
export const EXIT_RETRY = JOB_EXIT.retry;
export const EXIT_BAD_INPUT = JOB_EXIT.badInput;
export const EXIT_TERMINATED = JOB_EXIT.terminated;

/** Raised inside the job when SIGTERM arrived: unwinds to the checkpoint upload and exit 143. */
class Terminated extends Error {}

/** The trainer stopped in a way that may not recur (a crash, a kill): resume from the checkpoint. */
class ResumableFailure extends Error {}

export async function runTrainingJob(
  env: Record<string, string | undefined>,
  deps: TrainingJobDeps,
  signal?: AbortSignal,
  options: TrainingJobOptions = {},
): Promise<number> {
  let jobEnv: TrainJobEnv;
  try {
    jobEnv = parseTrainJobEnv(env);
  } catch (err) {
    const runId = env.RUN_ID;
    deps.log.error("training job misconfigured", { runId, error: describeError(err) });
    // Nobody to tell without a RUN_ID: exit 2 so reconcile fails the run the execution belongs to.
    if (!runId) return EXIT_BAD_INPUT;
    const attempt = Number(env.RUN_ATTEMPT) >= 1 ? Math.floor(Number(env.RUN_ATTEMPT)) : 1;
    return (await publishFailed(deps, { runId, attempt, outputPrefix: null }, describeError(err), false)) ? EXIT_OK : EXIT_BAD_INPUT;
  }
  const log = deps.log.child({ runId: jobEnv.RUN_ID, attempt: jobEnv.RUN_ATTEMPT });
  const outputPrefix = jobEnv.OUTPUT_PREFIX;
  const target = { runId: jobEnv.RUN_ID, attempt: jobEnv.RUN_ATTEMPT, outputPrefix };
  const workDir = await mkdtemp(join(options.tmpRoot ?? tmpdir(), "train-"));
  try {
    const existing = await readExistingResult(deps, joinUri(outputPrefix, "result.json"), log);
    if (existing) {
      log.info("run already has a result; republishing training.completed", { modelUri: existing.modelUri });
      await publishCompleted(deps, jobEnv, existing);
      return EXIT_OK;
    }
    return await train(jobEnv, { ...deps, log }, workDir, signal, options);
  } catch (err) {
    if (err instanceof Terminated) return EXIT_TERMINATED;
    if (err instanceof ResumableFailure) {
      log.warn("trainer stopped; the run resumes from its checkpoint", { error: err.message });
      return (await publishFailed({ ...deps, log }, target, err.message, true)) ? EXIT_OK : EXIT_RETRY;
    }
    if (err instanceof PermanentError) {
      log.error("training failed permanently", { error: describeError(err) });
      return (await publishFailed({ ...deps, log }, target, describeError(err, 1500), false)) ? EXIT_OK : EXIT_BAD_INPUT;
    }
    log.error("training job error; the task will be retried", { error: describeError(err) });
    return EXIT_RETRY;
  } finally {
    await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function train(jobEnv: TrainJobEnv, deps: TrainingJobDeps, workDir: string, signal: AbortSignal | undefined, options: TrainingJobOptions): Promise<number> {
  const { store, log } = deps;
  const dirs = { data: join(workDir, "data"), output: join(workDir, "output"), checkpoints: join(workDir, "checkpoints"), base: join(workDir, "base") };
  for (const dir of Object.values(dirs)) await mkdir(dir, { recursive: true });
  const throwIfTerminated = () => {
    if (signal?.aborted) throw new Terminated();
  };

  await materialiseDataset(store, jobEnv.DATASET_URI, dirs.data, log);
  throwIfTerminated();
  const basePath = jobEnv.BASE_MODEL_URI ? await downloadBaseModel(store, jobEnv.BASE_MODEL_URI, dirs.base, log) : null;
  const checkpoints = new CheckpointSync(store, dirs.checkpoints, `${joinUri(jobEnv.OUTPUT_PREFIX, "checkpoints")}/`, log);
  await checkpoints.download();
  throwIfTerminated();

  const childEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) childEnv[key] = value;
  for (const key of SECRET_ENV_KEYS) delete childEnv[key];
  Object.assign(childEnv, {
    RUN_ID: jobEnv.RUN_ID,
    DATA_DIR: dirs.data,
    OUTPUT_DIR: dirs.output,
    CHECKPOINT_DIR: dirs.checkpoints,
    PARAMS: jobEnv.PARAMS,
  });
  if (basePath) childEnv.BASE_MODEL_PATH = basePath;

  const logFile = join(workDir, "train.log");
  log.info("starting trainer", { command: describeTrainerCommand(jobEnv.TRAINER_COMMAND ?? null), warmStart: Boolean(basePath) });
  const trainer = startTrainer({ command: jobEnv.TRAINER_COMMAND ?? null, env: childEnv, log, logFile });

  let uploadError: unknown = null;
  const tick = setInterval(() => {
    checkpoints.upload({ settledOnly: true }).catch((err: unknown) => {
      uploadError ??= err;
      log.warn("checkpoint upload failed; will retry", { error: describeError(err) });
    });
  }, options.checkpointIntervalMs ?? 30_000);

  let exit: TrainerExit;
  try {
    const terminated = new Promise<"terminated">((resolve) => {
      if (signal?.aborted) resolve("terminated");
      signal?.addEventListener("abort", () => resolve("terminated"), { once: true });
    });
    const first = await Promise.race([trainer.done, terminated]);
    if (first === "terminated") {
      log.warn("SIGTERM: stopping the trainer and saving its checkpoints");
      await trainer.terminate(options.stopGraceMs ?? 5_000);
      clearInterval(tick);
      const uploaded = await checkpoints.upload();
      log.info("checkpoints saved after SIGTERM; reconcile resumes the run", { files: uploaded });
      throw new Terminated();
    }
    exit = first;
  } finally {
    clearInterval(tick);
  }
  // Checkpoints of a finished run are kept too: a later storage error must not cost the training.
  await checkpoints.upload();

  if (exit.code !== 0) {
    const tail = trainer.stderrTail().join(" | ");
    const detail = tail ? `: ${tail}` : "";
    if (exit.spawnError) throw new PermanentError("trainer_failed", `trainer could not start (${exit.spawnError})${detail}`);
    if (exit.code !== null && isTrainerBadInputExit(exit.code)) {
      throw new PermanentError("trainer_bad_input", `trainer exited with code ${exit.code} (bad input)${detail}`);
    }
    // A crash or a kill (the kernel's OOM killer sends SIGKILL) may not recur: resume from the checkpoint.
    throw new ResumableFailure(`trainer ${exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`}${detail}`);
  }
  if (uploadError) log.warn("a periodic checkpoint upload had failed; the final upload succeeded");
  return publishOutputs(jobEnv, deps, dirs.output, logFile);
}

/** Validates the trainer's output, uploads it, writes result.json last and announces the model. */
async function publishOutputs(jobEnv: TrainJobEnv, deps: TrainingJobDeps, outputDir: string, logFile: string): Promise<number> {
  const { store, log } = deps;
  const onnxPath = join(outputDir, "model.onnx");
  const cardPath = join(outputDir, "model.json");
  for (const path of [onnxPath, cardPath]) {
    if (!existsSync(path)) throw new PermanentError("trainer_output_missing", `the trainer exited 0 but wrote no ${relative(outputDir, path)}`);
  }
  let cardJson: unknown;
  try {
    cardJson = JSON.parse(await readFile(cardPath, "utf8"));
  } catch (err) {
    throw new PermanentError("invalid_model_card", `model.json is not JSON: ${(err as Error).message}`);
  }
  const card = parseModelCard(cardJson);
  const session = await loadAndValidate(await readFile(onnxPath), card);
  await session.release();

  const selfReported = await readMetrics(join(outputDir, "metrics.json"), log);
  const prefix = jobEnv.OUTPUT_PREFIX;
  for (const path of await listFiles(outputDir)) {
    const rel = relative(outputDir, path).split(sep).join("/");
    await store.upload(path, joinUri(prefix, rel));
  }
  if (existsSync(logFile)) await store.upload(logFile, joinUri(prefix, "train.log"), { contentType: "text/plain" });

  const result: TrainingResult = {
    runId: jobEnv.RUN_ID,
    modelUri: joinUri(prefix, "model.onnx"),
    cardUri: joinUri(prefix, "model.json"),
    metricsUri: selfReported ? joinUri(prefix, "metrics.json") : null,
    completedAt: deps.clock.now().toISOString(),
  };
  // Last: its presence means every other output is in place (step 1 relies on it).
  await store.put(joinUri(prefix, "result.json"), JSON.stringify(result, null, 2), { contentType: "application/json" });
  await publishCompleted(deps, jobEnv, result, selfReported);
  log.info("training completed", { modelUri: result.modelUri, classes: card.classes.length });
  return EXIT_OK;
}

async function readMetrics(path: string, log: TrainingJobDeps["log"]): Promise<Record<string, unknown> | null> {
  if (!existsSync(path)) return null;
  try {
    const value = JSON.parse(await readFile(path, "utf8")) as unknown;
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through: a trainer's metrics are informative, never a reason to fail the run
  }
  log.warn("metrics.json is not a JSON object; ignoring it");
  return null;
}

async function main(): Promise<void> {
  let deps: JobDeps;
  try {
    deps = await createJobDeps(process.env, "train");
  } catch (err) {
    process.stderr.write(`training job cannot start: ${describeError(err, 2000)}\n`);
    process.exitCode = EXIT_RETRY;
    return;
  }
  const controller = new AbortController();
  process.once("SIGTERM", () => controller.abort());
  process.exitCode = await runTrainingJob(process.env, deps, controller.signal);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
