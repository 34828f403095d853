import { describeError, TransientError } from "../../errors.ts";
import type { ParsedMessage } from "../../messages/build.ts";
import type { DecodedRaster, Deps } from "../../ports.ts";
import { getItem, type ItemRow } from "../../db/queries/items.ts";
import { claimInbox } from "../../db/queries/messaging.ts";
import { aliasHolder, getModel } from "../../db/queries/models.ts";
import { referenceFeatures } from "../../db/queries/drift.ts";
import { claimPrelabels, failPrelabel, finishPrelabel, itemFeatures, itemsWithoutPrelabel, releasePrelabel } from "../../db/queries/prelabels.ts";
import type { ItemImages } from "../evaluation/types.ts";
import { boundaryDensity, noveltyOf, priorityOf } from "../prelabel/priority.ts";
import { objectUri } from "../uri.ts";
import type { ConsumerOutcome } from "../consumers.ts";

/** How long one delivery may hold an item's claim while it predicts and talks to the backend. */
const CLAIM_SECONDS = 600;
/** Reference images read for the novelty component (as the drift check reads them). */
const MAX_REFERENCE_IMAGES = 500;

/**
 * prelabel: the current model's mask for each newly registered item, sent to the annotation backend
 * as a machine-made pre-label, and the item's labelling priority (shared/core/prelabel/priority.ts).
 *
 * A separate consumer of `items.registered`, so a prediction can never hold a registration back:
 * an item whose prediction fails stays registered without a pre-label, the reason on its
 * `prelabels` row and in the log. Items registered while no model held the alias (or whose
 * pre-label failed) are caught up by a bounded backfill on each reconcile tick and when a model
 * is promoted.
 *
 * Exactly once in effect: each item is claimed (a `prelabels` row with a lease) before it is
 * predicted, and the claim becomes `done` in the transaction that records the result; the message
 * goes into the inbox after its items are settled. A redelivery finds the items done (or claimed
 * by the delivery still working on them) and does nothing; a process that died holding a claim
 * leaves it to expire, and the item is predicted again — the mask object and the local task file
 * are rewritten with the same bytes, and Label Studio is asked whether it has this model's
 * prediction before another is posted (shared/adapters/labelstudio/prelabel.ts).
 */
export async function prelabelRegistered(message: ParsedMessage & { type: "items.registered" }, deps: Deps): Promise<ConsumerOutcome> {
  const alias = deps.config.prelabel.alias;
  if (!alias) return { status: "skipped", detail: "pre-labelling is off (PRELABEL_ALIAS=none)" };
  const { rows } = await deps.db.query(`SELECT 1 FROM inbox WHERE consumer = 'prelabel' AND message_id = $1`, [message.id]);
  if (rows.length > 0) return { status: "duplicate" };
  const outcome = await prelabelItems(message.data.itemIds, deps, { alias, retryFailed: false });
  // Items that failed transiently were given back: throwing lets the platform redeliver for them.
  if (outcome.retry > 0) throw new TransientError(`${outcome.retry} pre-label(s) failed transiently: ${outcome.firstError ?? ""}`);
  await deps.db.transaction((tx) => claimInbox(tx, "prelabel", message.id));
  return { status: outcome.done + outcome.failed > 0 ? "done" : "skipped", detail: describe(outcome) };
}

/**
 * The backfill: registered items without a pre-label (registered before any model held the alias,
 * or failed with attempts left), at most PRELABEL_BACKFILL_PER_TICK per run, oldest first. Guarded
 * by the items' claims, so ticks need no inbox.
 */
export async function backfillPrelabels(deps: Deps): Promise<ConsumerOutcome> {
  const { alias, backfillPerTick, maxAttempts } = deps.config.prelabel;
  if (!alias || backfillPerTick === 0) return { status: "skipped", detail: "pre-label backfill is off" };
  if (!(await aliasHolder(deps.db, alias))) return { status: "skipped", detail: `no model holds ${alias} yet` };
  const ids = await itemsWithoutPrelabel(deps.db, backfillPerTick, maxAttempts);
  if (ids.length === 0) return { status: "skipped", detail: "every registered item has a pre-label" };
  const outcome = await prelabelItems(ids, deps, { alias, retryFailed: true });
  return { status: outcome.done + outcome.failed > 0 ? "done" : "skipped", detail: `backfill: ${describe(outcome)}` };
}

interface Outcome {
  done: number;
  failed: number;
  retry: number;
  skipped: number;
  firstError?: string;
}

function describe(o: Outcome): string {
  return `${o.done} pre-labelled, ${o.failed} failed, ${o.skipped} skipped${o.retry ? `, ${o.retry} to retry` : ""}`;
}

async function prelabelItems(itemIds: readonly string[], deps: Deps, options: { alias: string; retryFailed: boolean }): Promise<Outcome> {
  const outcome: Outcome = { done: 0, failed: 0, retry: 0, skipped: 0 };
  const { alias } = options;
  if (!(await aliasHolder(deps.db, alias))) {
    // Not a failure: the backfill pre-labels these once a model holds the alias.
    outcome.skipped = itemIds.length;
    return outcome;
  }
  if (!deps.predictor) throw new Error("this deployable has no predictor: add its loader (functions/prelabel.ts)");
  const predictor = await deps.predictor();
  const backend = await deps.backend();
  const token = deps.ids.next("plc");
  const claimed = await deps.db.transaction((tx) => claimPrelabels(tx, itemIds, {
    alias, token, leaseSeconds: CLAIM_SECONDS, retryFailedBelow: options.retryFailed ? deps.config.prelabel.maxAttempts : 0,
  }));
  outcome.skipped = itemIds.length - claimed.length;
  const references = new Map<string, Record<string, number>[]>();

  for (const itemId of claimed) {
    let modelId: string | null = null;
    try {
      const item = await getItem(deps.db, itemId);
      if (!item || !item.width || !item.height) throw new Error(`item ${itemId} has no renderings to predict`);
      const { images, nodata } = await loadRenderings(item, deps);
      const { modelId: predictedBy, prediction } = await predictor.predictImages(alias, images, nodata);
      modelId = predictedBy;
      const classes = prediction.classes.length;
      const codec = await deps.codec();
      const maskUri = objectUri(deps.config.buckets.annotation, `prelabels/${itemId}/${predictedBy}.png`);
      await deps.store.put(maskUri, await codec.encodePng({ width: prediction.width, height: prediction.height, channels: 1, data: prediction.mask }), { contentType: "image/png" });

      const novelty = await noveltyFor(itemId, predictedBy, deps, references);
      const priority = priorityOf({
        uncertainty: prediction.confidence?.meanEntropy ?? null,
        boundary: boundaryDensity(prediction.mask, prediction.width, prediction.height, classes),
        novelty,
      }, deps.config.prelabel.weights);
      let note = "";
      if (backend.prelabel) {
        await backend.prelabel({ itemId, mask: { width: prediction.width, height: prediction.height, data: prediction.mask }, modelId: predictedBy, maskUri, priority: priority.score });
      } else {
        note = `; ${backend.name} takes no pre-labels (priority recorded only)`;
      }
      const recorded = await deps.db.transaction((tx) => finishPrelabel(tx, itemId, token, {
        modelId: predictedBy, maskUri, priority: priority.score,
        components: { ...priority.components, margin: prediction.confidence?.meanMargin ?? null, weights: priority.weights },
        reason: priority.reason + note,
      }));
      if (recorded) outcome.done++;
      else outcome.skipped++;
    } catch (err) {
      const reason = describeError(err);
      if (err instanceof TransientError) {
        await releasePrelabel(deps.db, itemId, token).catch(() => undefined);
        outcome.retry++;
        outcome.firstError ??= reason;
        deps.log.warn("pre-label failed transiently; retried", { itemId, error: reason });
        continue;
      }
      // The item keeps its registration: the reason is recorded, and the backfill tries again
      // until PRELABEL_MAX_ATTEMPTS.
      await deps.db.transaction((tx) => failPrelabel(tx, itemId, token, reason, modelId));
      outcome.failed++;
      outcome.firstError ??= reason;
      deps.log.warn("pre-label failed; the item stays registered without one", { itemId, modelId, error: reason });
    }
  }
  deps.log.info("pre-labelled items", { alias, ...outcome });
  return outcome;
}

/** The renderings annotators see (what ingest wrote), decoded, and the nodata mask. */
async function loadRenderings(item: ItemRow, deps: Pick<Deps, "store" | "codec">): Promise<{ images: ItemImages; nodata: DecodedRaster | null }> {
  const codec = await deps.codec();
  const images: ItemImages = {};
  for (const role of ["rgb", "nir", "image"] as const) {
    const asset = item.assets[role];
    if (asset) images[role] = await codec.decodePng(await deps.store.get(asset.uri));
  }
  const nodata = item.assets.nodata ? await codec.decodePng(await deps.store.get(item.assets.nodata.uri)) : null;
  return { images, nodata };
}

/** Novelty against the model's training data; null without statistics on either side. */
async function noveltyFor(itemId: string, modelId: string, deps: Pick<Deps, "db">, cache: Map<string, Record<string, number>[]>): Promise<number | null> {
  const features = await itemFeatures(deps.db, itemId);
  if (!features) return null;
  let reference = cache.get(modelId);
  if (!reference) {
    const model = await getModel(deps.db, modelId);
    reference = model?.dataset_version_id ? await referenceFeatures(deps.db, model.dataset_version_id, MAX_REFERENCE_IMAGES) : [];
    cache.set(modelId, reference);
  }
  return noveltyOf(features, reference);
}
