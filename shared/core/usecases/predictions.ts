import { PermanentError, describeError } from "../../errors.ts";
import type { Envelope } from "../../messages/envelope.ts";
import type { Command } from "../../messages/commands.ts";
import type { PredictionCompleted, PredictionFailed } from "../../messages/events.ts";
import {
  MAX_PREDICTION_ATTEMPTS, PREDICTIONS_PREFIX, PREDICTION_DRIFT_FILE, PREDICTION_SUMMARY_FILE, PREDICT_TIMEOUT_SECONDS, PredictionDriftSchema,
  PredictionSummarySchema, predictJobEnv, type PredictionDrift,
} from "../../messages/predict-job.ts";
import { recordPredictedImageStats } from "../../db/queries/drift.ts";
import { SeededRng, deriveSeed } from "../training/rng.ts";
import type { Deps } from "../../ports.ts";
import { claimInbox } from "../../db/queries/messaging.ts";
import { aliasHolder, getModel } from "../../db/queries/models.ts";
import {
  claimPredictionLaunch, getPredictionRun, insertPredictionRunIfAbsent, markPredictionFailed, markPredictionLaunched, markPredictionRelaunching,
  markPredictionSucceeded, recordPredictionLaunchFailure, type PredictionRunRow,
} from "../../db/queries/predictions.ts";
import { LAUNCH_BACKOFF, judgeExecution, judgeLaunchFailure } from "../jobs/executions.ts";
import { notify, transact } from "../effects.ts";
import { joinUri, objectUri, parseObjectUri } from "../uri.ts";
import type { ConsumerOutcome } from "../consumers.ts";

/** How long one caller may take to launch the job before another may try (as for training). */
const LAUNCH_CLAIM_SECONDS = 120;

type PredictCommand = Extract<Command, { name: "predict" }>;

/**
 * `predict <alias> <prefix>`: records a prediction run for the model holding the alias now (so
 * every execution of the run predicts with the same model, whatever moves later) and launches the
 * `predict` job. The prefix is a folder of the archive bucket or a full gs:// URI. The run is
 * created once per command message (its id is the run's key), so a redelivered command launches
 * nothing twice; a crash between the commit and the launch leaves the run `launching` for reconcile.
 */
export async function startPrediction(cmd: PredictCommand, message: Envelope<Command>, deps: Deps): Promise<ConsumerOutcome> {
  const holder = await aliasHolder(deps.db, cmd.alias);
  if (!holder) throw new PermanentError("unknown_alias", `no model holds alias "${cmd.alias}"; nothing to predict with`);
  const model = await getModel(deps.db, holder.model_id);
  if (!model) throw new PermanentError("unknown_model", `alias ${cmd.alias} points at unknown model ${holder.model_id}`);
  const sourcePrefix = sourcePrefixOf(cmd.prefix, deps.config.buckets.archive);
  const runId = deps.ids.next("pred");
  const run = await transact(deps, message, async (tx) => {
    await claimInbox(tx, "command", message.id);
    const outputPrefix = objectUri(deps.config.buckets.models, `${PREDICTIONS_PREFIX}${cmd.alias}/${runId}/`);
    return (await insertPredictionRunIfAbsent(tx, {
      id: runId, commandId: message.id, alias: cmd.alias, modelId: model.id, sourcePrefix, outputPrefix, actor: cmd.actor,
    })).row;
  });
  if (run.state === "launching") await launchPrediction(run.id, deps, message);
  return { status: run.id === runId ? "done" : "duplicate", detail: `prediction run ${run.id}: ${model.id} (${cmd.alias}) over ${sourcePrefix}` };
}

/** `uploads/2024/` → `gs://<archive>/uploads/2024/`; a gs:// URI is taken as it is. */
export function sourcePrefixOf(prefix: string, archiveBucket: string): string {
  if (!prefix.startsWith("gs://")) return objectUri(archiveBucket, prefix);
  try {
    const { bucket, name } = parseObjectUri(prefix);
    return objectUri(bucket, name);
  } catch {
    throw new PermanentError("bad_prefix", `"${prefix}" is not a gs://bucket/prefix URI`);
  }
}

/** Launches the job of a run in `launching` (claim first, execution name stored at once), as for evaluations. */
export async function launchPrediction(runId: string, deps: Deps, cause: Envelope | null = null): Promise<boolean> {
  const run = await claimPredictionLaunch(deps.db, runId, LAUNCH_CLAIM_SECONDS);
  if (!run) return false;
  const model = await getModel(deps.db, run.model_id);
  if (!model) throw new PermanentError("unknown_model", `prediction run ${runId} refers to missing model ${run.model_id}`);
  let executionName: string;
  try {
    const env = predictJobEnv({
      runId: run.id, attempt: run.attempt, alias: run.alias, model: { id: model.id, uri: model.uri },
      sourcePrefix: run.source_prefix, outputPrefix: run.output_prefix, correlationId: cause?.correlationId ?? null,
    });
    ({ executionName } = await deps.jobs.launch({ job: "predict", runId: run.id, env, timeoutSeconds: PREDICT_TIMEOUT_SECONDS }));
  } catch (err) {
    await launchFailed(run, err, deps, cause);
    return false;
  }
  await transact(deps, cause, (tx) => markPredictionLaunched(tx, run.id, executionName));
  deps.log.info("prediction launched", { runId, executionName, modelId: model.id, sourcePrefix: run.source_prefix });
  return true;
}

async function launchFailed(run: PredictionRunRow, err: unknown, deps: Deps, cause: Envelope | null): Promise<void> {
  const verdict = judgeLaunchFailure(err, run.launch_failures, (e) => describeError(e, 1500));
  if (verdict.outcome === "retry") {
    await recordPredictionLaunchFailure(deps.db, run.id, verdict.reason, LAUNCH_BACKOFF);
    deps.log.warn("prediction launch failed; reconcile retries after back-off", { runId: run.id, error: describeError(err) });
    return;
  }
  const failed = await transact(deps, cause, (tx) => markPredictionFailed(tx, run.id, verdict.reason));
  if (failed) await notify(deps, { severity: "alert", threadKey: `pred:${run.id}`, title: `Batch prediction ${run.id} could not be launched`, text: verdict.reason });
}

/**
 * A finished run: marked succeeded once (inbox in the same transaction), and the drift features of
 * its sampled images (drift.json) join the input-drift window in that transaction, so a redelivery
 * adds none twice.
 */
export async function onPredictionCompleted(message: Envelope<PredictionCompleted>, deps: Deps): Promise<ConsumerOutcome> {
  const { runId, summaryUri, ok, failed } = message.data;
  const run = await getPredictionRun(deps.db, runId);
  if (!run) throw new PermanentError("unknown_run", `prediction.completed for unknown run ${runId}`);
  // A settled run's completion is a redelivery: nothing to read.
  const drift = run.state === "succeeded" ? null : await readDriftSample(run, deps);
  let recorded = 0;
  const row = await transact(deps, message, async (tx) => {
    if (!(await claimInbox(tx, "command", message.id))) return null;
    const settled = await markPredictionSucceeded(tx, runId, { summaryUri, ok, failed });
    if (settled && drift) recorded = await recordPredictedImageStats(tx, { modelId: run.model_id, alias: run.alias, images: windowOrder(drift.images, runId) });
    return settled;
  });
  if (!row) return { status: "duplicate" };
  if (drift) deps.log.info("batch prediction added to the drift window", { runId, images: recorded, predicted: drift.predicted });
  await notify(deps, {
    severity: failed > 0 ? "warning" : "info", threadKey: `pred:${runId}`, title: `Batch prediction ${runId} finished`,
    text: `${ok} predicted, ${failed} failed with ${row.model_id} (${row.alias}); summary ${summaryUri}`,
  });
  return { status: "done", detail: `prediction run ${runId}: ${ok} ok, ${failed} failed` };
}

export async function onPredictionFailed(message: Envelope<PredictionFailed>, deps: Deps): Promise<ConsumerOutcome> {
  const { runId, reason, attempt } = message.data;
  const run = await getPredictionRun(deps.db, runId);
  if (!run) throw new PermanentError("unknown_run", `prediction.failed for unknown run ${runId}`);
  if (attempt !== undefined && attempt !== run.attempt) {
    await transact(deps, message, (tx) => claimInbox(tx, "command", message.id));
    return { status: "skipped", detail: `prediction.failed of attempt ${attempt}; run ${runId} is on attempt ${run.attempt}` };
  }
  const row = await transact(deps, message, async (tx) => {
    if (!(await claimInbox(tx, "command", message.id))) return null;
    return markPredictionFailed(tx, runId, reason);
  });
  if (!row) return { status: "duplicate" };
  await notify(deps, { severity: "alert", threadKey: `pred:${runId}`, title: `Batch prediction ${runId} failed`, text: reason });
  return { status: "done", detail: `prediction run ${runId} failed: ${reason}` };
}

/**
 * An execution that ended without its message: recover the completion from summary.json (written
 * last), relaunch what may succeed on another try (up to MAX_PREDICTION_ATTEMPTS), fail the rest.
 */
export async function reconcilePrediction(run: PredictionRunRow, deps: Deps, cause: Envelope | null): Promise<string | null> {
  if (!run.execution_name) return null;
  let verdict = judgeExecution(await deps.jobs.status(run.execution_name));
  if (verdict.outcome === "running") return null;
  const summaryUri = joinUri(run.output_prefix, PREDICTION_SUMMARY_FILE);
  if (verdict.outcome === "succeeded" || verdict.outcome === "resume") {
    const summary = await readSummary(summaryUri, deps);
    if (summary && summary.runId === run.id) {
      const data = { runId: run.id, summaryUri, ok: summary.counts.ok, failed: summary.counts.failed };
      await transact(deps, cause, (_tx, emit) => emit("prediction.completed", data, { id: `prediction.completed:${run.id}` }));
      return `prediction ${run.id}: completion recovered from ${PREDICTION_SUMMARY_FILE}`;
    }
  }
  if (verdict.outcome === "succeeded") {
    // Its message may still be on its way; after a while, an execution that left nothing is lost work.
    const age = (deps.clock.now().getTime() - run.updated_at.getTime()) / 1000;
    if (age < deps.config.delivery.stuckAfterSeconds) return null;
    verdict = { outcome: "resume", reason: "execution finished without a summary" };
  }
  if (verdict.outcome === "resume" && run.attempt < MAX_PREDICTION_ATTEMPTS) {
    if (!(await deps.db.transaction((tx) => markPredictionRelaunching(tx, run.id, verdict.reason, run.attempt)))) return null;
    await launchPrediction(run.id, deps, cause);
    return `prediction ${run.id}: relaunched (${verdict.reason})`;
  }
  const reason = verdict.outcome === "resume" ? `${verdict.reason} (gave up after ${run.attempt} attempts)` : verdict.reason;
  const failed = await deps.db.transaction((tx) => markPredictionFailed(tx, run.id, reason));
  if (failed) await notify(deps, { severity: "alert", threadKey: `pred:${run.id}`, title: `Batch prediction ${run.id} failed`, text: reason });
  return `prediction ${run.id}: failed (${reason})`;
}

/**
 * The run's drift.json, or null: a run from before the file existed has none, and an unreadable
 * one is logged and left out — drift is a measurement; the run is settled all the same.
 */
async function readDriftSample(run: PredictionRunRow, deps: Deps): Promise<PredictionDrift | null> {
  const uri = joinUri(run.output_prefix, PREDICTION_DRIFT_FILE);
  // Storage errors are transient: they propagate and the message is delivered again.
  if (!(await deps.store.head(uri))) return null;
  const bytes = await deps.store.get(uri);
  let reason: string;
  try {
    const parsed = PredictionDriftSchema.safeParse(JSON.parse(bytes.toString("utf8")));
    if (parsed.success && parsed.data.runId === run.id) return parsed.data;
    reason = parsed.success ? `it belongs to run ${parsed.data.runId}` : describeError(parsed.error);
  } catch (err) {
    reason = describeError(err);
  }
  deps.log.warn("batch prediction's drift sample not used", { runId: run.id, uri, reason });
  return null;
}

/**
 * The sample in a shuffled order (seeded by the run): the drift check reads the newest
 * DRIFT_WINDOW_IMAGES rows; rows inserted in one transaction share their time and are read highest
 * id first, so the part of the batch a window holds is spread over the whole batch rather than
 * being its alphabetical end.
 */
function windowOrder<T>(images: readonly T[], runId: string): T[] {
  const order = new SeededRng(deriveSeed(0, `drift:${runId}`)).shuffle(Int32Array.from({ length: images.length }, (_, k) => k));
  return Array.from(order, (k) => images[k]!);
}

async function readSummary(uri: string, deps: Deps) {
  if (!(await deps.store.head(uri))) return null;
  try {
    const parsed = PredictionSummarySchema.safeParse(JSON.parse((await deps.store.get(uri)).toString("utf8")));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
