import { PermanentError, describeError } from "../../errors.ts";
import type { Envelope } from "../../messages/envelope.ts";
import type { TrainingCompleted, TrainingFailed } from "../../messages/events.ts";
import type { Deps } from "../../ports.ts";
import { getDatasetVersion } from "../../db/queries/datasets.ts";
import { getEvaluation, insertEvaluationIfAbsent, markEvaluationLaunched } from "../../db/queries/evaluations.ts";
import { claimInbox } from "../../db/queries/messaging.ts";
import { aliasHolder, getModel, insertModel } from "../../db/queries/models.ts";
import { getTrainingRun, markRunFailed, markRunLaunched, markRunRelaunching, markRunSucceeded } from "../../db/queries/training.ts";
import { ModelCardSchema } from "../models/model-card.ts";
import { summariseIssues } from "../../messages/build.ts";
import { notify, transact } from "../effects.ts";
import type { ConsumerOutcome } from "../consumers.ts";
import { failpoint } from "../failpoints.ts";

/**
 * Launches the training job of a run in `launching`. There is no idempotency token on Cloud Run's
 * RunJob, so: the run row is claimed first (state `launching`), the execution name is stored the
 * moment the launch returns, and the job itself checks for existing output.
 */
export async function launchTrainingRun(runId: string, deps: Deps, cause: Envelope | null = null): Promise<boolean> {
  const run = await getTrainingRun(deps.db, runId);
  if (!run || run.state !== "launching") return false;
  const version = await getDatasetVersion(deps.db, run.dataset_version_id);
  if (!version) throw new PermanentError("unknown_dataset", `run ${runId} refers to an unknown dataset version`);
  const champion = await aliasHolder(deps.db, deps.config.policy.champion_alias);
  const championModel = champion ? await getModel(deps.db, champion.model_id) : null;
  const env: Record<string, string> = {
    RUN_ID: run.id,
    DATASET_URI: version.manifest_uri,
    OUTPUT_PREFIX: run.output_prefix,
    PARAMS: JSON.stringify(run.params ?? {}),
  };
  const baseModel = championModel?.uri ?? deps.config.training.baseModelUri;
  if (baseModel) env.BASE_MODEL_URI = baseModel;
  if (deps.config.training.trainerCommand) env.TRAINER_COMMAND = deps.config.training.trainerCommand;

  let executionName: string;
  try {
    ({ executionName } = await deps.jobs.launch({ job: "train", runId: run.id, env, timeoutSeconds: deps.config.training.timeoutSeconds }));
  } catch (err) {
    // The run stays `launching`; reconcile launches it again.
    deps.log.warn("training launch failed; reconcile will retry", { runId, error: describeError(err) });
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

/** A failed run is resumed from its checkpoint when it stopped on its time limit, else recorded and alerted. */
export async function onTrainingFailed(message: Envelope<TrainingFailed>, deps: Deps): Promise<ConsumerOutcome> {
  const { runId, reason, resumable } = message.data;
  const run = await getTrainingRun(deps.db, runId);
  if (!run) throw new PermanentError("unknown_run", `training.failed for unknown run ${runId}`);
  const retry = resumable && run.attempt < deps.config.training.maxAttempts;
  const changed = await transact(deps, message, async (tx, emit) => {
    if (!(await claimInbox(tx, "on-training-completed", message.id))) return false;
    if (retry) return Boolean(await markRunRelaunching(tx, runId, reason));
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

/** Launches the evaluation job of an evaluation in `launching` (claim first, store the execution name at once). */
export async function launchEvaluation(evaluationId: string, deps: Deps, cause: Envelope | null = null): Promise<boolean> {
  const evaluation = await getEvaluation(deps.db, evaluationId);
  if (!evaluation || evaluation.state !== "launching") return false;
  const candidate = await getModel(deps.db, evaluation.candidate_model_id);
  const champion = evaluation.champion_model_id ? await getModel(deps.db, evaluation.champion_model_id) : null;
  const version = await getDatasetVersion(deps.db, evaluation.dataset_version_id);
  if (!candidate || !version) throw new PermanentError("unknown_model", `evaluation ${evaluationId} refers to a missing model or dataset`);
  const env: Record<string, string> = {
    EVALUATION_ID: evaluation.id,
    CANDIDATE_MODEL_ID: candidate.id,
    CANDIDATE_MODEL_URI: candidate.uri,
    DATASET_URI: version.manifest_uri,
    REPORT_PREFIX: `gs://${deps.config.buckets.models}/${version.line}/evaluations/${evaluation.id}/`,
  };
  if (champion) {
    env.CHAMPION_MODEL_ID = champion.id;
    env.CHAMPION_MODEL_URI = champion.uri;
  }
  if (deps.config.training.benchmarkDatasetUri) env.BENCHMARK_DATASET_URI = deps.config.training.benchmarkDatasetUri;
  let executionName: string;
  try {
    ({ executionName } = await deps.jobs.launch({ job: "evaluate", runId: evaluation.id, env, timeoutSeconds: 3600 }));
  } catch (err) {
    deps.log.warn("evaluation launch failed; reconcile will retry", { evaluationId, error: describeError(err) });
    return false;
  }
  failpoint("evaluation.launched_unrecorded");
  await transact(deps, cause, (tx) => markEvaluationLaunched(tx, evaluation.id, executionName));
  deps.log.info("evaluation launched", { evaluationId, executionName });
  return true;
}
