import { PermanentError, describeError } from "../../errors.ts";
import type { Envelope } from "../../messages/envelope.ts";
import type { AnnotationBackend, Deps, FetchedLabel, LabelRef } from "../../ports.ts";
import { insertAnnotation, latestAnnotation, processedLabelRevisions, recordLabelRevision } from "../../db/queries/annotations.ts";
import { releaseCursorLease, takeCursorLease } from "../../db/queries/cursors.ts";
import { findAcceptedDuplicate, findItemForLabel, getItem, transitionItem, type ItemRow } from "../../db/queries/items.ts";
import { claimInbox } from "../../db/queries/messaging.ts";
import { recordDeadLetter } from "../../db/queries/dead-letters.ts";
import type { CanonicalAnnotation } from "../annotation/canonical.ts";
import { ontologyFromNames } from "../annotation/ontology.ts";
import { checkQuality } from "../annotation/quality.ts";
import { labelMask, writeSampleExports } from "../datasets/exports.ts";
import { MASK_IGNORE_VALUE } from "../datasets/manifest.ts";
import { prelabelAgreement } from "../prelabel/acceptance.ts";
import { prelabelToCompare, recordPrelabelAcceptance } from "../../db/queries/prelabels.ts";
import { notify, transact } from "../effects.ts";
import { canonicalJson, sha256Hex } from "../json.ts";
import type { ConsumerOutcome } from "../consumers.ts";
import { failpoint } from "../failpoints.ts";

const LEASE_SECONDS = 300;
const FETCH_CHUNK = 100;

/** Item states in which a finished label is taken in (and re-checked when a label is edited). */
const LABELLABLE = ["normalised", "registered", "annotated", "accepted", "rejected", "in_dataset"] as const;

/**
 * poll: asks the backend for finished labels, converts the new ones to canonical annotations, runs
 * the quality checks and accepts or rejects each sample with its reasons.
 *
 * The backend's refs may repeat revisions taken before: a backend that cannot tell "finished
 * since" reliably (Encord: a row approved without an edit keeps its old edit time) lists more
 * than is new, and the revisions already processed — a revision is (backend, label, edited-at) —
 * are dropped here with one lookup, before any label content is fetched. Each label is committed
 * on its own (one bad label never blocks the others) together with the record of its revision; the
 * cursor (the backend's own state) advances only after the whole batch, so a crash re-reads the
 * batch, and the re-read is a no-op.
 */
export async function pollLabels(message: Envelope | null, deps: Deps): Promise<ConsumerOutcome> {
  const backend = await deps.backend();
  const owner = deps.ids.next("poll");
  const lease = await deps.db.transaction((tx) => takeCursorLease(tx, backend.name, owner, LEASE_SECONDS));
  if (!lease) return { status: "skipped", detail: "another poll holds the lease" };

  const counts = { accepted: 0, rejected: 0, unmatched: 0, seen: 0, known: 0 };
  const itemIds: string[] = [];
  let nextCursor: string | null | undefined;
  try {
    const page = await backend.poll(lease.cursor);
    const fresh = await newRevisions(deps, backend.name, page.refs);
    counts.known = page.refs.length - fresh.length;
    for (let i = 0; i < fresh.length; i += FETCH_CHUNK) {
      const fetched = await backend.fetchLabels(fresh.slice(i, i + FETCH_CHUNK));
      for (const label of fetched) {
        counts.seen++;
        const outcome = await takeInLabel(label, backend, deps, message);
        if (outcome.kind === "accepted" || outcome.kind === "rejected") {
          failpoint("poll.label_committed");
          counts[outcome.kind]++;
          itemIds.push(outcome.itemId);
        } else if (outcome.kind === "unmatched") counts.unmatched++;
      }
    }
    nextCursor = page.nextCursor;
  } catch (err) {
    await deps.db.transaction((tx) => releaseCursorLease(tx, backend.name, owner, undefined)).catch(() => undefined);
    if (err instanceof PermanentError) {
      // e.g. the backend refused our credentials: one alert per hour, not one per tick.
      await notify(deps, { severity: "alert", title: `Polling ${backend.name} failed`, text: describeError(err) }, { dedupeKey: `poll-error:${backend.name}:${err.code}` });
    }
    throw err;
  }

  await transact(deps, message, async (tx, emit) => {
    if (message) await claimInbox(tx, "poll", message.id);
    await releaseCursorLease(tx, backend.name, owner, nextCursor ?? lease.cursor);
    if (counts.accepted + counts.rejected > 0) {
      await emit("annotations.accepted", { accepted: counts.accepted, rejected: counts.rejected, itemIds: [...new Set(itemIds)] });
    }
  });
  deps.log.info("poll finished", { backend: backend.name, ...counts });
  return { status: counts.seen > 0 ? "done" : "skipped", detail: `${counts.accepted} accepted, ${counts.rejected} rejected, ${counts.unmatched} unmatched` };
}

/** The refs whose revision no poll has processed yet (one per revision, in the backend's order). */
async function newRevisions(deps: Deps, backend: string, refs: readonly LabelRef[]): Promise<LabelRef[]> {
  const unique = new Map<string, LabelRef>();
  for (const ref of refs) unique.set(revisionKey(ref), ref);
  const known = await processedLabelRevisions(deps.db, backend, [...unique.values()].map((r) => ({ labelId: r.labelId, editedAt: revisionTime(r) })));
  return [...unique.values()].filter((r) => !known.has(revisionKey(r)));
}

/** A revision's edit time as stored (timestamptz, to the millisecond). */
const revisionTime = (ref: LabelRef) => new Date(ref.editedAt).toISOString();
const revisionKey = (ref: LabelRef) => `${ref.labelId}@${revisionTime(ref)}`;

type LabelOutcome =
  | { kind: "accepted" | "rejected"; itemId: string }
  | { kind: "duplicate" | "stale" | "unmatched" };

async function takeInLabel(label: FetchedLabel, backend: AnnotationBackend, deps: Deps, cause: Envelope | null): Promise<LabelOutcome> {
  const { ref } = label;
  const editedAt = revisionTime(ref);
  const notes = label.result.ok ? (label.result.notes ?? []) : [];
  if (notes.length > 0) deps.log.info("label taken in with notes", { labelId: ref.labelId, notes });
  const revision = { backend: backend.name, labelId: ref.labelId, editedAt, notes };

  const item = (ref.itemId ? await getItem(deps.db, ref.itemId) : null) ?? (await findItemForLabel(deps.db, ref));
  if (!item || !(LABELLABLE as readonly string[]).includes(item.state)) {
    const reason = item
      ? `label ${ref.labelId} is for item ${item.id}, which is ${item.state}`
      : `label ${ref.labelId} (${ref.title ?? ref.backendRef ?? "no title"}) matches no item`;
    deps.log.warn("label not taken in", { reason });
    // On record once per revision, however often the backend lists it.
    await deps.db.transaction(async (tx) => {
      if (!(await recordLabelRevision(tx, { ...revision, outcome: "unmatched", itemId: item?.id ?? null }))) return;
      await recordDeadLetter(tx, { consumer: "poll", messageId: `${backend.name}:${ref.labelId}@${editedAt}`, reason, payload: { ref } });
    });
    return { kind: "unmatched" };
  }

  const verdict = await judge(label, item, deps);
  // The label's dataset files are written now, once, so freezing a version never has to.
  const accepted = verdict.verdict === "accepted" ? verdict.annotation : null;
  // Rasterised once: the mask export and the pre-label comparison read the same pixels.
  const mask = accepted && deps.config.annotation.task === "segmentation" ? labelMask(accepted, verdict.nodataMask) : null;
  const exports = accepted ? await writeSampleExports(accepted, verdict.nodataMask, deps, mask ?? undefined) : null;
  const agreement = accepted && mask ? await compareWithPrelabel(item.id, accepted.image, mask, deps) : null;
  const annotationId = `an_${sha256Hex(`${backend.name}|${ref.labelId}|${editedAt}`).slice(0, 20)}`;
  const canonical = verdict.annotation;
  return transact(deps, cause, async (tx) => {
    const latest = await latestAnnotation(tx, item.id);
    const inserted = await insertAnnotation(tx, {
      id: annotationId, itemId: item.id, backend: backend.name, labelId: ref.labelId, annotator: ref.annotator ?? canonical?.provenance.annotator ?? null,
      editedAt, canonical, canonicalSha256: canonical ? sha256Hex(canonicalJson(canonical)) : null, verdict: verdict.verdict, reasons: verdict.reasons, exports,
    });
    await recordLabelRevision(tx, { ...revision, outcome: verdict.verdict, itemId: item.id });
    if (!inserted) return { kind: "duplicate" } as const;
    // An older revision arriving late is stored for the record but does not decide the item's state.
    if (latest && latest.edited_at.getTime() > Date.parse(editedAt)) return { kind: "stale" } as const;
    const annotated = await transitionItem(tx, item.id, LABELLABLE, "annotated", { error: null, error_stage: null }, `label ${ref.labelId}`);
    if (!annotated) return { kind: "stale" } as const;
    const reason = verdict.verdict === "accepted" ? "passed quality checks" : verdict.reasons.join("; ");
    await transitionItem(tx, item.id, ["annotated"], verdict.verdict, verdict.verdict === "rejected" ? { error: reason, error_stage: "quality" } : {}, reason);
    if (agreement) await recordPrelabelAcceptance(tx, { itemId: item.id, annotationId, ...agreement });
    return { kind: verdict.verdict, itemId: item.id } as const;
  });
}

/**
 * How much of the item's pre-label (if it has one not yet compared) this accepted label kept, for
 * the dashboard's pre-label acceptance per model. A measurement: when the pre-label mask cannot be
 * read the label is taken in all the same, without it.
 */
async function compareWithPrelabel(itemId: string, image: { width: number; height: number }, label: Uint8Array, deps: Deps): Promise<{ modelId: string; keptPixels: number; comparedPixels: number } | null> {
  const prelabel = await prelabelToCompare(deps.db, itemId);
  if (!prelabel) return null;
  try {
    const raster = await (await deps.codec()).decodePng(await deps.store.get(prelabel.maskUri));
    const { width, height } = image;
    if (raster.width !== width || raster.height !== height) throw new Error(`pre-label is ${raster.width}×${raster.height}, the label ${width}×${height}`);
    const predicted = raster.channels === 1 ? raster.data : firstChannel(raster.data, raster.channels);
    const agreement = prelabelAgreement(label, predicted, MASK_IGNORE_VALUE);
    return agreement && { modelId: prelabel.modelId, ...agreement };
  } catch (err) {
    deps.log.warn("pre-label not compared with its label", { itemId, maskUri: prelabel.maskUri, reason: describeError(err) });
    return null;
  }
}

async function judge(label: FetchedLabel, item: ItemRow, deps: Deps): Promise<{ verdict: "accepted" | "rejected"; reasons: string[]; annotation: CanonicalAnnotation | null; nodataMask: Uint8Array | null }> {
  if (!label.result.ok) return { verdict: "rejected", reasons: [`label could not be read: ${label.result.error}`], annotation: null, nodataMask: null };
  // The backend may not know our item id; the label is about the item we matched.
  const annotation: CanonicalAnnotation = { ...label.result.annotation, itemId: item.id };
  let nodataMask: Uint8Array | null = null;
  if (item.assets.nodata) {
    const codec = await deps.codec();
    const raster = await codec.decodePng(await deps.store.get(item.assets.nodata.uri));
    nodataMask = raster.channels === 1 ? raster.data : firstChannel(raster.data, raster.channels);
  }
  const duplicateOf = item.content_sha256 ? await findAcceptedDuplicate(deps.db, item.id, item.content_sha256) : null;
  const result = checkQuality(annotation, {
    ontology: ontologyFromNames(deps.config.annotation.ontology),
    image: { width: item.width ?? annotation.image.width, height: item.height ?? annotation.image.height },
    nodataMask,
    duplicateOf,
    task: deps.config.annotation.task,
  });
  return { verdict: result.verdict, reasons: result.reasons, annotation, nodataMask };
}

function firstChannel(data: Uint8Array, channels: number): Uint8Array {
  const out = new Uint8Array(data.length / channels);
  for (let i = 0; i < out.length; i++) out[i] = data[i * channels]!;
  return out;
}
