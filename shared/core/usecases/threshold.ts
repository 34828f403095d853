import type { Envelope } from "../../messages/envelope.ts";
import type { Tick } from "../../messages/events.ts";
import type { Deps } from "../../ports.ts";
import { applyMemberChanges, insertDatasetVersion, latestDatasetVersion } from "../../db/queries/datasets.ts";
import { freshAcceptedStats } from "../../db/queries/items.ts";
import { claimInbox } from "../../db/queries/messaging.ts";
import { insertTrainingRun, runInFlight } from "../../db/queries/training.ts";
import { transact } from "../effects.ts";
import { freezeManifest } from "../datasets/freeze.ts";
import type { ConsumerOutcome } from "../consumers.ts";
import { launchTrainingRun } from "./training.ts";
import { failpoint } from "../failpoints.ts";

/**
 * threshold: when at least N accepted samples are not yet in any dataset version (or M samples and
 * T hours have passed, or a `retrain` command forces it) and no training is in flight for the line,
 * freeze a new immutable dataset version and launch training. Single flight is the database's job:
 * the partial unique index on training_runs refuses a second in-flight run, and the whole freeze
 * rolls back with it.
 */
export async function checkThreshold(message: Envelope<Tick | unknown> | null, deps: Deps, force = false): Promise<ConsumerOutcome> {
  const { config } = deps;
  const line = config.threshold.line;
  const fresh = await freshAcceptedStats(deps.db);
  const ageHours = fresh.oldest ? (deps.clock.now().getTime() - fresh.oldest.getTime()) / 3_600_000 : 0;
  const trigger = force && fresh.count > 0 ? "command"
    : fresh.count >= config.threshold.n ? `${fresh.count} fresh ≥ N=${config.threshold.n}`
    : fresh.count >= config.threshold.m && ageHours >= config.threshold.tHours ? `${fresh.count} fresh ≥ M=${config.threshold.m} after ${ageHours.toFixed(1)} h`
    : null;
  if (!trigger) {
    await recordSeen(message, deps);
    return { status: "skipped", detail: `${fresh.count} fresh samples, below the threshold` };
  }
  const inFlight = await runInFlight(deps.db, line);
  if (inFlight) {
    await recordSeen(message, deps);
    return { status: "skipped", detail: `training ${inFlight.id} is in flight for line ${line}` };
  }

  // Build the version outside the transaction (object writes are content-addressed and idempotent).
  const parent = await latestDatasetVersion(deps.db, line);
  const frozen = await freezeManifest({
    line, parent, task: config.annotation.task, classes: config.annotation.ontology, evalSplitPercent: config.threshold.evalSplitPercent,
  }, deps);
  if (frozen.changes.length === 0) {
    await recordSeen(message, deps);
    return { status: "skipped", detail: "no accepted sample has a label to freeze" };
  }
  failpoint("threshold.files_written");

  const runId = deps.ids.next("run");
  const outcome = await transact(deps, message, async (tx, emit) => {
    if (message && !(await claimInbox(tx, "threshold", message.id))) return "duplicate" as const;
    try {
      if (!(await insertDatasetVersion(tx, {
        id: frozen.versionId, line, seq: frozen.seq, parentId: parent?.id ?? null, manifestUri: frozen.manifestUri,
        itemCount: frozen.itemCount, trainCount: frozen.trainCount, evalCount: frozen.evalCount, freshCount: frozen.changes.length,
        classes: config.annotation.ontology, exports: {}, trigger,
      }))) return "duplicate" as const;
    } catch (err) {
      // (line, seq) is taken: another freeze of this line committed first.
      if ((err as { code?: string }).code === "23505") throw new SingleFlight();
      throw err;
    }
    const reason = `dataset ${line} v${frozen.seq}`;
    for (let i = 0; i < frozen.changes.length; i += MEMBER_BATCH) {
      await applyMemberChanges(tx, { line, seq: frozen.seq, versionId: frozen.versionId, reason }, frozen.changes.slice(i, i + MEMBER_BATCH));
    }
    try {
      await insertTrainingRun(tx, {
        id: runId, line, datasetVersionId: frozen.versionId,
        outputPrefix: `gs://${config.buckets.models}/${line}/runs/${runId}/`, params: config.training.params,
      });
    } catch (err) {
      if ((err as { code?: string }).code === "23505") throw new SingleFlight();
      throw err;
    }
    await emit("dataset.version_created", { versionId: frozen.versionId, line, seq: frozen.seq, itemCount: frozen.itemCount, manifestUri: frozen.manifestUri });
    return "created" as const;
  }).catch((err: unknown) => {
    if (err instanceof SingleFlight) return "in_flight" as const;
    throw err;
  });

  if (outcome === "in_flight") return { status: "skipped", detail: "another training run started first" };
  if (outcome === "duplicate") return { status: "duplicate" };
  failpoint("threshold.committed");
  deps.log.info("dataset version frozen", { versionId: frozen.versionId, seq: frozen.seq, items: frozen.itemCount, fresh: frozen.changes.length, from: frozen.source, pagesWritten: frozen.pagesWritten, trigger });
  await launchTrainingRun(runId, deps, message);
  return { status: "done", detail: `dataset ${line} v${frozen.seq} (${frozen.itemCount} items), run ${runId}` };
}

class SingleFlight extends Error {}

/** Changes per statement batch in the freeze transaction. */
const MEMBER_BATCH = 5000;

async function recordSeen(message: Envelope | null, deps: Deps): Promise<void> {
  if (message) await deps.db.transaction((tx) => claimInbox(tx, "threshold", message.id));
}

