import { describeError } from "../../errors.ts";
import type { Envelope } from "../../messages/envelope.ts";
import { TrainingCompletedSchema } from "../../messages/events.ts";
import type { Deps } from "../../ports.ts";
import { evaluationsInStates, launchableEvaluations, markEvaluationFailed, markEvaluationRelaunching, type EvaluationRow } from "../../db/queries/evaluations.ts";
import { launchableRuns, markRunFailed, markRunRelaunching, runsInStates, type TrainingRunRow } from "../../db/queries/training.ts";
import { TRAINING_FAILURE_FILE, TrainingFailureRecordSchema } from "../../messages/jobs.ts";
import { MAX_EVALUATION_ATTEMPTS, judgeExecution } from "../jobs/executions.ts";
import { flushOutbox, notify, transact } from "../effects.ts";
import { joinUri } from "../uri.ts";
import type { ConsumerOutcome } from "../consumers.ts";
import { launchEvaluation, launchTrainingRun } from "./training.ts";
import { launchPrediction, reconcilePrediction } from "./predictions.ts";
import { launchablePredictionRuns, predictionRunsInStates } from "../../db/queries/predictions.ts";
import { applyRetention } from "./retention.ts";
import { checkDriftQuietly } from "./drift.ts";
import { retryStuckItems } from "./stuck-items.ts";

/**
 * reconcile: finds what a crash or a lost message left behind and nudges it on —
 * outbox rows never published, items stuck in a state (retried with back-off, failed after
 * STUCK_MAX_ATTEMPTS), jobs that ended without reporting, runs that hit the one-hour GPU cap
 * (resumed from their checkpoint), launches that never happened — and deletes operational rows
 * past their retention.
 */
export async function reconcile(message: Envelope | null, deps: Deps): Promise<ConsumerOutcome> {
  const notes: string[] = [];

  const republished = await flushOutbox(deps, { olderThanSeconds: 10 }).catch((err: unknown) => {
    deps.log.warn("outbox republish failed", { error: describeError(err) });
    return 0;
  });
  if (republished) notes.push(`${republished} outbox rows republished`);

  notes.push(...(await retryStuckItems(message, deps)));

  for (const run of await launchableRuns(deps.db, 30)) {
    if (await launchTrainingRun(run.id, deps, message)) notes.push(`run ${run.id} launched`);
  }
  for (const run of await runsInStates(deps.db, ["running"], 15)) {
    const note = await reconcileRun(run, deps, message).catch((err: unknown) => `run ${run.id}: ${describeError(err)}`);
    if (note) notes.push(note);
  }
  for (const evaluation of await launchableEvaluations(deps.db, 30)) {
    if (await launchEvaluation(evaluation.id, deps, message)) notes.push(`evaluation ${evaluation.id} launched`);
  }
  for (const evaluation of await evaluationsInStates(deps.db, ["running"], 15)) {
    const note = await reconcileEvaluation(evaluation, deps, message).catch((err: unknown) => `evaluation ${evaluation.id}: ${describeError(err)}`);
    if (note) notes.push(note);
  }
  for (const run of await launchablePredictionRuns(deps.db, 30)) {
    if (await launchPrediction(run.id, deps, message)) notes.push(`prediction ${run.id} launched`);
  }
  for (const run of await predictionRunsInStates(deps.db, ["running"], 15)) {
    const note = await reconcilePrediction(run, deps, message).catch((err: unknown) => `prediction ${run.id}: ${describeError(err)}`);
    if (note) notes.push(note);
  }
  const drift = await checkDriftQuietly(deps);
  if (drift) notes.push(drift);
  const deleted = await applyRetention(deps).catch((err: unknown) => {
    deps.log.warn("retention failed; the next run retries", { error: describeError(err) });
    return {};
  });
  const purged = Object.entries(deleted).filter(([, n]) => n > 0).map(([table, n]) => `${table} ${n}`);
  if (purged.length) notes.push(`retention deleted ${purged.join(", ")}`);
  if (notes.length) deps.log.info("reconciled", { notes });
  return { status: notes.length ? "done" : "skipped", detail: notes.join("; ") || "nothing to reconcile" };
}

async function reconcileRun(run: TrainingRunRow, deps: Deps, cause: Envelope | null): Promise<string | null> {
  if (!run.execution_name) return null;
  const status = await deps.jobs.status(run.execution_name);
  let verdict = judgeExecution(status);
  if (verdict.outcome === "running") return null;
  if (verdict.outcome === "succeeded") {
    // The job finished but its completion message never arrived: rebuild it from the job's output.
    const result = await readJson(deps, joinUri(run.output_prefix, "result.json"));
    const parsed = result ? TrainingCompletedSchema.safeParse({ runId: run.id, outputPrefix: run.output_prefix, ...result }) : null;
    if (parsed?.success) {
      await transact(deps, cause, (_tx, emit) => emit("training.completed", parsed.data, { id: `training.completed:${run.id}` }));
      return `run ${run.id}: completion recovered from result.json`;
    }
  }
  if (verdict.outcome !== "resume") {
    // The job recorded why it failed (failure.json) but its message never arrived: send it now,
    // under the job's own message id, so a late original is recognised as the same message.
    const failure = TrainingFailureRecordSchema.safeParse(await readJson(deps, joinUri(run.output_prefix, TRAINING_FAILURE_FILE)));
    if (failure.success && failure.data.runId === run.id && failure.data.attempt === run.attempt) {
      const { messageId, ...data } = failure.data;
      await transact(deps, cause, (_tx, emit) => emit("training.failed", data, { id: messageId }));
      return `run ${run.id}: failure recovered from ${TRAINING_FAILURE_FILE}`;
    }
  }
  if (verdict.outcome === "succeeded") {
    // A message may still be on its way; after a while, an execution that left nothing is lost work.
    const age = (deps.clock.now().getTime() - run.updated_at.getTime()) / 1000;
    if (age < deps.config.delivery.stuckAfterSeconds) return null;
    verdict = { outcome: "resume", reason: "execution finished without a result or a failure record" };
  }
  if (verdict.outcome === "resume" && run.attempt < deps.config.training.maxAttempts) {
    // Another reconcile may have judged this attempt first: then it launches, not us.
    if (!(await deps.db.transaction((tx) => markRunRelaunching(tx, run.id, verdict.reason, run.attempt)))) return null;
    await launchTrainingRun(run.id, deps, cause);
    return `run ${run.id}: resumed (${verdict.reason})`;
  }
  const reason = verdict.outcome === "resume" ? `${verdict.reason} (gave up after ${run.attempt} attempts)` : verdict.reason;
  const failed = await transact(deps, cause, async (tx, emit) => {
    const row = await markRunFailed(tx, run.id, reason);
    if (row) await emit("threshold.tick", { reason: "nudge", line: run.line });
    return row;
  });
  if (failed) await notify(deps, { severity: "alert", threadKey: `run:${run.id}`, title: `Training ${run.id} failed`, text: reason });
  return `run ${run.id}: failed (${reason})`;
}

async function reconcileEvaluation(evaluation: EvaluationRow, deps: Deps, cause: Envelope | null): Promise<string | null> {
  if (!evaluation.execution_name) return null;
  const status = await deps.jobs.status(evaluation.execution_name);
  let verdict = judgeExecution(status);
  if (verdict.outcome === "running") return null;
  if (verdict.outcome === "succeeded") {
    // A succeeded evaluation job publishes its own completion (and republishes on a re-run).
    const age = (deps.clock.now().getTime() - evaluation.updated_at.getTime()) / 1000;
    if (age < deps.config.delivery.stuckAfterSeconds) return null;
    verdict = { outcome: "resume", reason: "job finished but its report never arrived" };
  }
  if (verdict.outcome === "resume" && evaluation.attempt < MAX_EVALUATION_ATTEMPTS) {
    if (!(await deps.db.transaction((tx) => markEvaluationRelaunching(tx, evaluation.id, verdict.reason, evaluation.attempt)))) return null;
    await launchEvaluation(evaluation.id, deps, cause);
    return `evaluation ${evaluation.id}: relaunched (${verdict.reason})`;
  }
  const reason = verdict.outcome === "resume" ? `${verdict.reason} (gave up after ${evaluation.attempt} attempts)` : verdict.reason;
  const failed = await deps.db.transaction((tx) => markEvaluationFailed(tx, evaluation.id, reason));
  if (failed) await notify(deps, { severity: "alert", threadKey: `eval:${evaluation.id}`, title: `Evaluation ${evaluation.id} failed`, text: reason });
  return `evaluation ${evaluation.id}: failed (${reason})`;
}

async function readJson(deps: Deps, uri: string): Promise<Record<string, unknown> | null> {
  if (!(await deps.store.head(uri))) return null;
  try {
    return JSON.parse((await deps.store.get(uri)).toString("utf8")) as Record<string, unknown>;
  } catch {
    return null;
  }
}
