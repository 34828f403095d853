import type { Envelope } from "../../messages/envelope.ts";
import type { Tick } from "../../messages/events.ts";
import type { Deps } from "../../ports.ts";
import { latestAcceptedAnnotations } from "../../db/queries/annotations.ts";
import { insertDatasetVersion, latestDatasetVersion, versionMembers } from "../../db/queries/datasets.ts";
import { freshAcceptedStats, transitionItem, type ItemRow } from "../../db/queries/items.ts";
import { claimInbox } from "../../db/queries/messaging.ts";
import { insertTrainingRun, runInFlight } from "../../db/queries/training.ts";
import { transact } from "../effects.ts";
import { buildManifest, writeVersionFiles } from "../datasets/freeze.ts";
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
  const candidates = await deps.db.query<ItemRow>(`SELECT * FROM items WHERE state = 'accepted' ORDER BY id`);
  const previous = parent ? await versionMembers(deps.db, parent.id) : [];
  const itemIds = [...new Set([...previous.map((m) => m.item_id), ...candidates.rows.map((i) => i.id)])];
  const annotations = await latestAcceptedAnnotations(deps.db, itemIds);
  const items = await loadItems(deps, itemIds);
  const members = itemIds.flatMap((id) => {
    const item = items.get(id);
    const annotation = annotations.get(id);
    return item && annotation ? [{ item, annotation }] : [];
  });
  const freshIds = new Set(candidates.rows.map((i) => i.id));
  const manifest = buildManifest({
    line, seq: (parent?.seq ?? 0) + 1, parentId: parent?.id ?? null, task: config.annotation.task,
    classes: config.annotation.ontology, evalSplitPercent: config.threshold.evalSplitPercent, members, datasetsBucket: config.buckets.datasets,
  });
  const files = await writeVersionFiles(manifest, members, deps);
  failpoint("threshold.files_written");

  const runId = deps.ids.next("run");
  const outcome = await transact(deps, message, async (tx, emit) => {
    if (message && !(await claimInbox(tx, "threshold", message.id))) return "duplicate" as const;
    if (!(await insertDatasetVersion(tx, {
      id: files.versionId, line, seq: manifest.seq, parentId: manifest.parentId, manifestUri: files.manifestUri,
      itemCount: manifest.items.length, trainCount: manifest.items.filter((i) => i.split === "train").length,
      evalCount: manifest.items.filter((i) => i.split === "eval").length, freshCount: members.filter((m) => freshIds.has(m.item.id)).length,
      classes: manifest.classes, exports: files.exports, trigger,
      members: manifest.items.map((i) => ({ itemId: i.itemId, annotationId: annotations.get(i.itemId)!.id, split: i.split })),
    }))) return "duplicate" as const;
    for (const { item } of members) {
      if (freshIds.has(item.id)) {
        await transitionItem(tx, item.id, ["accepted"], "in_dataset", { dataset_version_id: files.versionId }, `dataset ${line} v${manifest.seq}`);
      }
    }
    try {
      await insertTrainingRun(tx, {
        id: runId, line, datasetVersionId: files.versionId,
        outputPrefix: `gs://${config.buckets.models}/${line}/runs/${runId}/`, params: config.training.params,
      });
    } catch (err) {
      if ((err as { code?: string }).code === "23505") throw new SingleFlight();
      throw err;
    }
    await emit("dataset.version_created", { versionId: files.versionId, line, seq: manifest.seq, itemCount: manifest.items.length, manifestUri: files.manifestUri });
    return "created" as const;
  }).catch((err: unknown) => {
    if (err instanceof SingleFlight) return "in_flight" as const;
    throw err;
  });

  if (outcome === "in_flight") return { status: "skipped", detail: "another training run started first" };
  if (outcome === "duplicate") return { status: "duplicate" };
  failpoint("threshold.committed");
  deps.log.info("dataset version frozen", { versionId: files.versionId, seq: manifest.seq, items: manifest.items.length, trigger });
  await launchTrainingRun(runId, deps, message);
  return { status: "done", detail: `dataset ${line} v${manifest.seq} (${manifest.items.length} items), run ${runId}` };
}

class SingleFlight extends Error {}

async function recordSeen(message: Envelope | null, deps: Deps): Promise<void> {
  if (message) await deps.db.transaction((tx) => claimInbox(tx, "threshold", message.id));
}

async function loadItems(deps: Deps, ids: string[]): Promise<Map<string, ItemRow>> {
  const { rows } = await deps.db.query<ItemRow>(`SELECT * FROM items WHERE id = ANY($1::text[])`, [ids]);
  return new Map(rows.map((r) => [r.id, r]));
}
