import { pathToFileURL } from "node:url";
import { PermanentError, describeError } from "../../shared/errors.ts";
import { buildEnvelope } from "../../shared/messages/build.ts";
import type { Config } from "../../shared/config/load.ts";
import { parseJsonDocument } from "../../shared/core/evaluation/samples.ts";
import { joinUri } from "../../shared/core/uri.ts";
import type { JobDeps } from "../../shared/runtime/job-deps.ts";
import { JOB_EXIT } from "../../shared/messages/jobs.ts";
import {
  PREDICTION_DRIFT_FILE, PREDICTION_SUMMARY_FILE, PredictionSummarySchema, driftSampleIndices, parsePredictJobEnv, type PredictJobEnv,
  type PredictionDrift, type PredictionSummary,
} from "../../shared/messages/predict-job.ts";
import { imageFeatures } from "../../shared/core/drift/stats.ts";
import { Predictor, ServingError, type ModelLoader } from "../../shared/serving/predictor.ts";
import { servingNormaliseOptions } from "../../shared/serving/create.ts";
import type { Normaliser } from "../../shared/ports.ts";
import { maskNames, relativeInputs } from "./predict/inputs.ts";
import { ClassPixelTally } from "./predict/tally.ts";

/**
 * The batch prediction job (Cloud Run job; a child process locally), started by
 * `mlops command predict <alias> <prefix>`. Predicts every object under SOURCE_PREFIX with the
 * model the launcher resolved from the alias (MODEL_ID at MODEL_URI: jobs never touch the
 * database), normalised exactly as ingest normalises uploads (the serving Predictor, same options),
 * and writes one class-id mask PNG per input under OUTPUT_PREFIX, then `summary.json`.
 *
 * - An input the normaliser or the model refuses is recorded in the summary with its reason, and
 *   the job goes on; the run still succeeds.
 * - Memory is bounded: PREDICT_CONCURRENCY inputs (2 by default) are held at once; only counts,
 *   names and class fractions are kept per input.
 * - The drift features of an evenly spaced sample of the inputs go to drift.json, which the run's
 *   completion adds to the input-drift window: imagery scored in batch is watched as served imagery is.
 * - Reruns are safe: a mask is rewritten with the same bytes at the same name; summary.json is
 *   written last, and when it exists the job only republishes `prediction.completed` (same id).
 *
 * Exit codes (JOB_EXIT): 0 when done or when a permanent failure (no model file, an unusable
 * model) is announced with `prediction.failed`; 1 for transient trouble (storage, publishing);
 * 2 when the environment names no run to report on.
 */
export interface PredictJobDeps extends Pick<JobDeps, "store" | "publisher" | "codec" | "clock" | "log"> {
  config: Pick<Config, "normalise" | "serving">;
  normaliser?: () => Promise<Normaliser>;
  loadModel?: ModelLoader;
}

export async function runPredictionJob(rawEnv: Record<string, string | undefined>, deps: PredictJobDeps): Promise<number> {
  let env: PredictJobEnv;
  try {
    env = parsePredictJobEnv(rawEnv);
  } catch (err) {
    const runId = rawEnv.PREDICTION_RUN_ID;
    deps.log.error(describeError(err), { runId });
    if (!runId) return JOB_EXIT.badInput;
    return publishFailure(runId, describeError(err), undefined, rawEnv.CORRELATION_ID, deps);
  }
  const log = deps.log.child({ runId: env.PREDICTION_RUN_ID, modelId: env.MODEL_ID });
  const summaryUri = joinUri(env.OUTPUT_PREFIX, PREDICTION_SUMMARY_FILE);
  let predictor: Predictor | null = null;
  try {
    const existing = await readExistingSummary(summaryUri, env, deps);
    if (existing) {
      log.info("summary already exists; republishing prediction.completed", { summaryUri });
      await publishCompleted(env, existing, deps);
      return JOB_EXIT.ok;
    }
    predictor = await openPredictor(env, deps);
    const { summary, drift } = await predictAll(env, predictor, { ...deps, log });
    await deps.store.put(joinUri(env.OUTPUT_PREFIX, PREDICTION_DRIFT_FILE), `${JSON.stringify(drift)}\n`, { contentType: "application/json" });
    await deps.store.put(summaryUri, `${JSON.stringify(summary, null, 2)}\n`, { contentType: "application/json" });
    await publishCompleted(env, summary, deps);
    log.info("batch prediction completed", { summaryUri, ...summary.counts });
    return JOB_EXIT.ok;
  } catch (err) {
    if (err instanceof PermanentError || (err instanceof ServingError && err.status !== 500)) {
      log.error("batch prediction failed permanently", { error: describeError(err) });
      return publishFailure(env.PREDICTION_RUN_ID, describeError(err), env.RUN_ATTEMPT, env.CORRELATION_ID, deps);
    }
    log.error("batch prediction failed; exiting non-zero so the task is retried", { error: describeError(err) });
    return JOB_EXIT.retry;
  } finally {
    await predictor?.close();
  }
}

/** A predictor whose only alias is the one the launcher resolved, holding the launcher's model. */
async function openPredictor(env: PredictJobEnv, deps: PredictJobDeps): Promise<Predictor> {
  const cardUri = joinUri(env.MODEL_URI, "model.json");
  if (!(await deps.store.head(cardUri))) throw new PermanentError("model_not_found", `model ${env.MODEL_ID} has no model.json at ${cardUri}`);
  const card = parseJsonDocument(await deps.store.get(cardUri), `model card ${cardUri}`);
  const executionProviders = (await import("../../shared/adapters/onnx/providers.ts")).selectExecutionProviders(env.ONNX_EXECUTION_PROVIDERS);
  const predictor = new Predictor({
    catalog: {
      aliasHolder: async (alias) => (alias === env.ALIAS ? { id: 1, model_id: env.MODEL_ID } : null),
      getModel: async (id) => (id === env.MODEL_ID ? { uri: env.MODEL_URI, card } : null),
    },
    store: deps.store,
    log: deps.log,
    normaliser: deps.normaliser ?? (async () => (await import("../../shared/adapters/imaging/normaliser.ts")).createNormaliser()),
    codec: deps.codec,
    loadModel: deps.loadModel ?? (async (options) => (await import("../../shared/adapters/onnx/runtime.ts")).loadModel(options)),
    normaliseOptions: servingNormaliseOptions(deps.config),
    maxRequestBytes: deps.config.serving.maxRequestBytes,
    tileSize: deps.config.serving.tileSize,
    executionProviders,
  });
  // Load before listing: a model that cannot be served fails the run once, not every input.
  if (!(await predictor.refresh(env.ALIAS))) {
    await predictor.close();
    throw new PermanentError("model_not_found", `model ${env.MODEL_ID} has no model.onnx under ${env.MODEL_URI}`);
  }
  return predictor;
}

async function predictAll(env: PredictJobEnv, predictor: Predictor, deps: PredictJobDeps): Promise<{ summary: PredictionSummary; drift: PredictionDrift }> {
  const listed = await deps.store.list(env.SOURCE_PREFIX);
  // Never predict our own outputs when the source prefix holds the output prefix.
  const inputs = relativeInputs(listed.map((o) => `gs://${o.bucket}/${o.name}`), env.SOURCE_PREFIX, env.OUTPUT_PREFIX);
  const masks = maskNames(inputs.map((i) => i.relative));
  const tally = new ClassPixelTally();
  const predictions: PredictionSummary["predictions"] = [];
  const failures: PredictionSummary["failures"] = [];
  const sampled = driftSampleIndices(inputs.length);
  const driftImages: PredictionDrift["images"] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < inputs.length) {
      const index = next++;
      const input = inputs[index]!;
      const maskUri = joinUri(env.OUTPUT_PREFIX, masks[index]!);
      try {
        const outcome = await predictor.predictObject(env.ALIAS, input.uri, maskUri);
        tally.add(outcome.prediction);
        predictions.push({ input: input.uri, mask: maskUri, width: outcome.answer.width, height: outcome.answer.height, classFractions: outcome.answer.classFractions });
        const stats = outcome.normalised.bandStats;
        if (stats && sampled.has(index)) {
          driftImages.push({ input: input.uri, features: imageFeatures(stats.bands, stats.nodataFraction), classFractions: outcome.answer.classFractions });
        }
      } catch (err) {
        // The input's own fault (the normaliser's reason, too large, vanished): record it, go on.
        if (!(err instanceof ServingError) || err.status === 503) throw err;
        failures.push({ input: input.uri, code: err.code, reason: err.message });
        deps.log.warn("input not predicted", { input: input.uri, code: err.code, reason: err.message });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(env.PREDICT_CONCURRENCY, Math.max(1, inputs.length)) }, worker));
  const byInput = (a: { input: string }, b: { input: string }) => (a.input < b.input ? -1 : a.input > b.input ? 1 : 0);
  const summary: PredictionSummary = {
    schema: "prediction-summary/v1",
    runId: env.PREDICTION_RUN_ID,
    alias: env.ALIAS,
    modelId: env.MODEL_ID,
    sourcePrefix: env.SOURCE_PREFIX,
    outputPrefix: env.OUTPUT_PREFIX,
    counts: { total: inputs.length, ok: predictions.length, failed: failures.length },
    predictions: predictions.sort(byInput),
    failures: failures.sort(byInput),
    classFractions: tally.fractions(),
    finishedAt: deps.clock.now().toISOString(),
  };
  const drift: PredictionDrift = {
    schema: "prediction-drift/v1", runId: env.PREDICTION_RUN_ID, alias: env.ALIAS, modelId: env.MODEL_ID,
    images: driftImages.sort(byInput), predicted: predictions.length,
  };
  return { summary, drift };
}

/** The summary of an earlier execution of this run, or null (then predict again). */
async function readExistingSummary(uri: string, env: PredictJobEnv, deps: PredictJobDeps): Promise<PredictionSummary | null> {
  if (!(await deps.store.head(uri))) return null;
  try {
    const parsed = PredictionSummarySchema.safeParse(parseJsonDocument(await deps.store.get(uri), "existing summary"));
    if (parsed.success && parsed.data.runId === env.PREDICTION_RUN_ID) return parsed.data;
  } catch (err) {
    if (!(err instanceof PermanentError)) throw err;
  }
  deps.log.warn("existing summary is unreadable or another run's; predicting again", { uri });
  return null;
}

async function publishCompleted(env: PredictJobEnv, summary: PredictionSummary, deps: PredictJobDeps): Promise<void> {
  await deps.publisher.publish(buildEnvelope(
    "prediction.completed",
    { runId: env.PREDICTION_RUN_ID, summaryUri: joinUri(env.OUTPUT_PREFIX, PREDICTION_SUMMARY_FILE), ok: summary.counts.ok, failed: summary.counts.failed },
    { id: `prediction.completed:${env.PREDICTION_RUN_ID}`, occurredAt: deps.clock.now(), correlationId: env.CORRELATION_ID },
  ));
}

async function publishFailure(runId: string, reason: string, attempt: number | undefined, correlationId: string | undefined, deps: PredictJobDeps): Promise<number> {
  try {
    await deps.publisher.publish(buildEnvelope(
      "prediction.failed",
      { runId, reason, ...(attempt ? { attempt } : {}) },
      { id: `prediction.failed:${runId}:${attempt ?? 0}`, occurredAt: deps.clock.now(), correlationId },
    ));
    return JOB_EXIT.ok;
  } catch (err) {
    deps.log.error("could not publish prediction.failed", { runId, error: describeError(err) });
    return JOB_EXIT.retry;
  }
}

async function main(): Promise<void> {
  const { createJobDeps } = await import("../../shared/runtime/job-deps.ts");
  let deps: JobDeps;
  try {
    deps = await createJobDeps(process.env, "predict");
  } catch (err) {
    process.stderr.write(`${JSON.stringify({ severity: "ERROR", message: `prediction job cannot start: ${describeError(err)}` })}\n`);
    process.exitCode = JOB_EXIT.badInput;
    return;
  }
  process.exitCode = await runPredictionJob(process.env, deps);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
