import { PermanentError, describeError } from "../../errors.ts";
import type { Envelope } from "../../messages/envelope.ts";
import type { TrainingCompleted, TrainingFailed } from "../../messages/events.ts";
import type { Deps } from "../../ports.ts";
import { getDatasetVersion } from "../../db/queries/datasets.ts";
import {
  claimEvaluationLaunch, insertEvaluationIfAbsent, markEvaluationFailed, markEvaluationLaunched, recordEvaluationLaunchFailure, type EvaluationRow,
} from "../../db/queries/evaluations.ts";
import { claimInbox } from "../../db/queries/messaging.ts";
import { aliasHolder, getModel, insertModel } from "../../db/queries/models.ts";
import {
  getTrainingRun, markRunFailed, markRunLaunched, markRunRelaunching, markRunSucceeded, claimRunLaunch, recordRunLaunchFailure, type TrainingRunRow,
} from "../../db/queries/training.ts";
import { EVALUATE_TIMEOUT_SECONDS, evaluateJobEnv, trainJobEnv } from "../../messages/jobs.ts";
import { LAUNCH_BACKOFF, judgeLaunchFailure } from "../jobs/executions.ts";
import { ModelCardSchema } from "../models/model-card.ts";
import { summariseIssues } from "../../messages/build.ts";
import { notify, transact } from "../effects.ts";
import type { ConsumerOutcome } from "../consumers.ts";
import { failpoint } from "../failpoints.ts";

/** How long one caller may take to launch a job before another may try (RunJob answers in seconds). */
const LAUNCH_CLAIM_SECONDS = 120;

/**
 * Launches the training job of a run in `launching`. There is no idempotency token on Cloud Run's
 * RunJob, so: the run row is claimed first (state `launching`), the execution name is stored the
 * moment the launch returns, and the job itself checks for existing output. A launch the platform
 * refuses for good fails the run with an alert naming the fix; a transient failure leaves it
 * `launching` for reconcile, with back-off and a bounded number of tries.
 */
export async function launchTrainingRun(runId: string, deps: Deps, cause: Envelope | null = null): Promise<boolean> {
  // Claimed, not checked: concurrent deliveries must not both call RunJob (see migration 0012).
  const run = await claimRunLaunch(deps.db, runId, LAUNCH_CLAIM_SECONDS);
  if (!run) return false;
  const version = await getDatasetVersion(deps.db, run.dataset_version_id);
  if (!version) throw new PermanentError("unknown_dataset", `run ${runId} refers to an unknown dataset version`);
  const champion = await aliasHolder(deps.db, deps.config.policy.champion_alias);
  const championModel = champion ? await getModel(deps.db, champion.model_id) : null;

  let executionName: string;
  try {
    const env = trainJobEnv({
      runId: run.id,
      attempt: run.attempt,
      datasetUri: version.manifest_uri,
      outputPrefix: run.output_prefix,
      params: run.params ?? {},
      baseModelUri: championModel?.uri ?? deps.config.training.baseModelUri ?? null,
      trainerCommand: deps.config.training.trainerCommand ?? null,
    });
    ({ executionName } = await deps.jobs.launch({ job: "train", runId: run.id, env, timeoutSeconds: deps.config.training.timeoutSeconds }));
  } catch (err) {
    await trainingLaunchFailed(run, err, deps, cause);
    return false;
  }
  failpoint("training.launched_unrecorded");
  await transact(deps, cause, async (tx, emit) => {
    const launched = await markRunLaunched(tx, run.id, executionName);
    if (launched) await emit("training.started", { runId: run.id, datasetVersionId: run.dataset_version_id, executionName, attempt: launched.attempt });
  });
  deps.log.info("training launched", { runId, executionName, attempt: run.attempt });
  await notify(deps, { severity: "info", threadKey: `run:${run.id}`, title: `Training ${run.id} started`, text: `dataset ${version.line} v${version.seq} (${version.item_count} items), execution ${executionName}` });
  return true;
}

async function trainingLaunchFailed(run: TrainingRunRow, err: unknown, deps: Deps, cause: Envelope | null): Promise<void> {
  const verdict = judgeLaunchFailure(err, run.launch_failures, (e) => describeError(e, 1500));
  if (verdict.outcome === "retry") {
    const row = await recordRunLaunchFailure(deps.db, run.id, verdict.reason, LAUNCH_BACKOFF);
    deps.log.warn("training launch failed; reconcile retries after back-off", { runId: run.id, failures: row?.launch_failures, retryAt: row?.next_launch_at, error: describeError(err) });
    return;
  }
  const failed = await transact(deps, cause, async (tx, emit) => {
    const row = await markRunFailed(tx, run.id, verdict.reason);
    // The line has no run in flight any more: samples that arrive may start the next one.
    if (row) await emit("threshold.tick", { reason: "nudge", line: run.line });
    return row;
  });
  deps.log.error("training launch failed for good", { runId: run.id, error: verdict.reason });
  if (failed) await notify(deps, { severity: "alert", threadKey: `run:${run.id}`, title: `Training ${run.id} could not be launched`, text: verdict.reason });
}

/**
 * on-training-completed: records the model, then launches the evaluation job that scores the
 * candidate and the current champion on the same pinned split.
 */
export async function onTrainingCompleted(message: Envelope<TrainingCompleted>, deps: Deps): Promise<ConsumerOutcome> {
  const { runId, outputPrefix, cardUri, selfReported } = message.data;
  const run = await getTrainingRun(deps.db, runId);
  if (!run) throw new PermanentError("unknown_run", `training.completed for unknown run ${runId}`);

  let card;
  try {
    card = ModelCardSchema.safeParse(JSON.parse((await deps.store.get(cardUri)).toString("utf8")));
  } catch (err) {
    if (err instanceof PermanentError || err instanceof SyntaxError) card = { success: false as const, error: { issues: [{ path: [], message: describeError(err) }] } };
    else throw err;
  }
  if (!card.success) {
    const reason = `model card ${cardUri} is invalid: ${summariseIssues(card.error.issues)}`;
    await transact(deps, message, async (tx) => {
      if (await claimInbox(tx, "on-training-completed", message.id)) await markRunFailed(tx, runId, reason);
    });
    await notify(deps, { severity: "alert", threadKey: `run:${runId}`, title: `Training ${runId} produced an unusable model`, text: reason });
    return { status: "done", detail: reason };
  }

  const champion = await aliasHolder(deps.db, deps.config.policy.champion_alias);
  const evaluationId = deps.ids.next("eval");
  const result = await transact(deps, message, async (tx, emit) => {
    const first = await claimInbox(tx, "on-training-completed", message.id);
    // The line has no run in flight any more: samples that arrived meanwhile may be due.
    if (await markRunSucceeded(tx, runId, selfReported)) await emit("threshold.tick", { reason: "nudge", line: run.line });
    const model = await insertModel(tx, {
      id: `mdl_${runId.slice(4)}`, trainingRunId: runId, name: card.data.name, task: card.data.task,
      uri: outputPrefix, card: card.data, datasetVersionId: run.dataset_version_id,
    });
    const championId = champion && champion.model_id !== model.id ? champion.model_id : null;
    const evaluation = await insertEvaluationIfAbsent(tx, { id: evaluationId, candidateModelId: model.id, championModelId: championId, datasetVersionId: run.dataset_version_id });
    return { first, model, evaluation: evaluation.row };
  });
  failpoint("training.completed_committed");
  if (result.evaluation.state === "launching") await launchEvaluation(result.evaluation.id, deps, message);
  if (result.first) {
    await notify(deps, { severity: "info", threadKey: `run:${runId}`, title: `Training ${runId} finished`, text: `model ${result.model.id}; evaluating against ${champion ? champion.model_id : "no champion yet"}` });
  }
  return { status: result.first ? "done" : "duplicate", detail: `model ${result.model.id}, evaluation ${result.evaluation.id}` };
}

/**
 * A failed run is resumed from its checkpoint when the job says the failure may not recur (a crash,
 * a trainer killed for memory) and attempts remain; otherwise it is recorded and alerted. A failure
 * of an earlier attempt (a late or redelivered message) changes nothing.
 */
export async function onTrainingFailed(message: Envelope<TrainingFailed>, deps: Deps): Promise<ConsumerOutcome> {
  const { runId, resumable, attempt } = message.data;
  const run = await getTrainingRun(deps.db, runId);
  if (!run) throw new PermanentError("unknown_run", `training.failed for unknown run ${runId}`);
  if (attempt !== undefined && attempt !== run.attempt) {
    await transact(deps, message, (tx) => claimInbox(tx, "on-training-completed", message.id));
    return { status: "skipped", detail: `training.failed of attempt ${attempt}; run ${runId} is on attempt ${run.attempt}` };
  }
  const retry = resumable && run.attempt < deps.config.training.maxAttempts;
  const reason = resumable && !retry ? `${message.data.reason} (gave up after ${run.attempt} attempts)` : message.data.reason;
  const changed = await transact(deps, message, async (tx, emit) => {
    if (!(await claimInbox(tx, "on-training-completed", message.id))) return false;
    if (retry) return Boolean(await markRunRelaunching(tx, runId, reason, run.attempt));
    const failed = await markRunFailed(tx, runId, reason);
    if (failed) await emit("threshold.tick", { reason: "nudge", line: run.line });
    return Boolean(failed);
  });
  if (!changed) return { status: "duplicate" };
  if (retry) {
    await launchTrainingRun(runId, deps, message);
    return { status: "done", detail: `resuming run ${runId} (attempt ${run.attempt + 1})` };
  }
  await notify(deps, { severity: "alert", threadKey: `run:${runId}`, title: `Training ${runId} failed`, text: reason });
  return { status: "done", detail: `run ${runId} failed: ${reason}` };
}

/**
 * Launches the evaluation job of an evaluation in `launching` (claim first, store the execution
 * name at once). Launch failures are handled as for training runs.
 */
export async function launchEvaluation(evaluationId: string, deps: Deps, cause: Envelope | null = null): Promise<boolean> {
  const evaluation = await claimEvaluationLaunch(deps.db, evaluationId, LAUNCH_CLAIM_SECONDS);
  if (!evaluation) return false;
  const candidate = await getModel(deps.db, evaluation.candidate_model_id);
  const champion = evaluation.champion_model_id ? await getModel(deps.db, evaluation.champion_model_id) : null;
  const version = await getDatasetVersion(deps.db, evaluation.dataset_version_id);
  if (!candidate || !version) throw new PermanentError("unknown_model", `evaluation ${evaluationId} refers to a missing model or dataset`);
  let executionName: string;
  try {
    const env = evaluateJobEnv({
      evaluationId: evaluation.id,
      candidate: { id: candidate.id, uri: candidate.uri },
      champion: champion ? { id: champion.id, uri: champion.uri } : null,
      datasetUri: version.manifest_uri,
      reportPrefix: `gs://${deps.config.buckets.models}/${version.line}/evaluations/${evaluation.id}/`,
      benchmarkDatasetUri: deps.config.training.benchmarkDatasetUri ?? null,
    });
    ({ executionName } = await deps.jobs.launch({ job: "evaluate", runId: evaluation.id, env, timeoutSeconds: EVALUATE_TIMEOUT_SECONDS }));
  } catch (err) {
    await evaluationLaunchFailed(evaluation, err, deps, cause);
    return false;
  }
  failpoint("evaluation.launched_unrecorded");
  await transact(deps, cause, (tx) => markEvaluationLaunched(tx, evaluation.id, executionName));
  deps.log.info("evaluation launched", { evaluationId, executionName });
  return true;
}

async function evaluationLaunchFailed(evaluation: EvaluationRow, err: unknown, deps: Deps, cause: Envelope | null): Promise<void> {
  const verdict = judgeLaunchFailure(err, evaluation.launch_failures, (e) => describeError(e, 1500));
  if (verdict.outcome === "retry") {
    const row = await recordEvaluationLaunchFailure(deps.db, evaluation.id, verdict.reason, LAUNCH_BACKOFF);
    deps.log.warn("evaluation launch failed; reconcile retries after back-off", { evaluationId: evaluation.id, failures: row?.launch_failures, retryAt: row?.next_launch_at, error: describeError(err) });
    return;
  }
  const failed = await transact(deps, cause, (tx) => markEvaluationFailed(tx, evaluation.id, verdict.reason));
  deps.log.error("evaluation launch failed for good", { evaluationId: evaluation.id, error: verdict.reason });
  if (failed) await notify(deps, { severity: "alert", threadKey: `eval:${evaluation.id}`, title: `Evaluation ${evaluation.id} could not be launched`, text: verdict.reason });
}
