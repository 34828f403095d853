import * as z from "zod";
import { sha256Hex } from "../../../shared/core/json.ts";
import { joinUri } from "../../../shared/core/uri.ts";
import { describeError } from "../../../shared/errors.ts";
import { buildEnvelope } from "../../../shared/messages/build.ts";
import { TRAINING_FAILURE_FILE, type TrainJobEnv, type TrainingFailureRecord } from "../../../shared/messages/jobs.ts";
import type { Clock, Logger, ObjectStore, Publisher } from "../../../shared/ports.ts";

/**
 * How the training job announces its outcome: `result.json` (written last, so its presence means
 * every output is in place) with `training.completed`, or `failure.json` with `training.failed`.
 * Message ids name the run (and, for failures, the attempt and the reason), never the moment, so a
 * re-run or reconcile republishing them is recognised as the same message.
 */
export interface AnnounceDeps {
  store: ObjectStore;
  publisher: Publisher;
  log: Logger;
  clock: Clock;
}

export const ResultSchema = z.object({
  runId: z.string(),
  modelUri: z.string(),
  cardUri: z.string(),
  metricsUri: z.string().nullable(),
  completedAt: z.string(),
});
export type TrainingResult = z.infer<typeof ResultSchema>;

export async function readExistingResult(deps: AnnounceDeps, uri: string, log: Logger): Promise<TrainingResult | null> {
  if (!(await deps.store.head(uri))) return null;
  const parsed = ResultSchema.safeParse(safeJson((await deps.store.get(uri)).toString("utf8")));
  if (parsed.success) return parsed.data;
  log.warn("result.json is unreadable; training again", { uri });
  return null;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export async function publishCompleted(deps: AnnounceDeps, jobEnv: TrainJobEnv, result: TrainingResult, selfReported?: Record<string, unknown> | null): Promise<void> {
  let metrics = selfReported;
  if (metrics === undefined) {
    metrics = result.metricsUri ? (safeJson((await deps.store.get(result.metricsUri)).toString("utf8")) as Record<string, unknown> | null) : null;
    if (metrics !== null && (typeof metrics !== "object" || Array.isArray(metrics))) metrics = null;
  }
  const envelope = buildEnvelope(
    "training.completed",
    { runId: jobEnv.RUN_ID, outputPrefix: jobEnv.OUTPUT_PREFIX, modelUri: result.modelUri, cardUri: result.cardUri, selfReported: metrics },
    { id: `training.completed:${jobEnv.RUN_ID}`, occurredAt: new Date(result.completedAt) },
  );
  await deps.publisher.publish(envelope);
}

/**
 * Records the failure under OUTPUT_PREFIX (failure.json, best effort) and publishes training.failed;
 * false when the message could not be published. The id names the run attempt and the failure, not
 * the moment: the same failure published twice is one message, a later attempt's is another.
 */
export async function publishFailed(
  deps: AnnounceDeps,
  target: { runId: string; attempt: number; outputPrefix: string | null },
  reason: string,
  resumable: boolean,
): Promise<boolean> {
  const { runId, attempt } = target;
  const record: TrainingFailureRecord = {
    runId, attempt, reason, resumable, messageId: `training.failed:${runId}:a${attempt}:${sha256Hex(reason).slice(0, 12)}`,
  };
  if (target.outputPrefix) {
    await deps.store.put(joinUri(target.outputPrefix, TRAINING_FAILURE_FILE), JSON.stringify(record, null, 2), { contentType: "application/json" }).catch((err: unknown) => {
      deps.log.warn(`could not write ${TRAINING_FAILURE_FILE}`, { runId, error: describeError(err) });
    });
  }
  try {
    const envelope = buildEnvelope("training.failed", { runId, reason, resumable, attempt }, { id: record.messageId, occurredAt: deps.clock.now() });
    await deps.publisher.publish(envelope);
    return true;
  } catch (err) {
    deps.log.error("could not publish training.failed", { runId, error: describeError(err) });
    return false;
  }
}

