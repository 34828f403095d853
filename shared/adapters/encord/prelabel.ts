import { createHash } from "node:crypto";
import { PermanentError } from "../../errors.ts";
import { toEncordLabelRow } from "../../core/annotation/encord-label-row-write.ts";
import { fromSemanticRaster } from "../../core/annotation/mask-png.ts";
import type { Ontology } from "../../core/annotation/ontology.ts";
import type { PrelabelRequest } from "../../ports.ts";
import type { EncordContext } from "./context.ts";

/**
 * Pre-labels on Encord (docs/encord.md §9.6): the item's label row is found by our item id in its
 * client metadata (`labelrowmetadata`, uninitialised rows included), created when it has no
 * `label_hash` yet (§9.1, PUT), read whole (§7.1), given one bitmask object per class present —
 * `manualAnnotation: false`, which is how Encord marks model output (§9.4) — and saved whole
 * (§9.2: a save overwrites the row, so everything else in it is kept as read). The task's workflow
 * priority is set to the item's priority (§9.5, 0–1, keyed by data hash).
 *
 * Idempotent: object hashes are derived from (item, model, class), and a save replaces our earlier
 * machine-made objects, so a repeated call writes the same row. A row holding any object a person
 * made is left alone (the annotator has started; a pre-label must not overwrite their work).
 *
 * Cost: the row is found by listing the project's rows with their client metadata (one request,
 * every row: `labelrowmetadata` has no client-metadata filter), so each pre-label reads O(rows).
 * Fine for the backfill's batches; a project of 100k rows wants a cached item → data-hash map.
 */
export async function sendEncordPrelabel(ctx: EncordContext, ontology: Ontology, request: PrelabelRequest): Promise<"saved" | "kept_human_labels"> {
  const projectHash = ctx.settings.projectHash;
  const rows = await ctx.api.listLabelRowMetadata(projectHash, { includeUninitialised: true, includeClientMetadata: true });
  const meta = rows.find((r) => (r.client_metadata as { itemId?: unknown } | null | undefined)?.itemId === request.itemId);
  if (!meta) throw new PermanentError("encord_row_missing", `no Encord label row carries item ${request.itemId}: register it first`);
  let labelHash = meta.label_hash;
  let row: Record<string, unknown> | undefined;
  if (!labelHash) {
    // The PUT is not idempotent; a lost answer leaves a row that the next attempt lists above.
    row = (await ctx.api.createLabelRows(projectHash, [meta.data_hash])).find((r) => r.data_hash === meta.data_hash);
    labelHash = typeof row?.label_hash === "string" ? row.label_hash : null;
    if (!labelHash) throw new PermanentError("encord_row_not_created", `Encord created no label row for data ${meta.data_hash}`);
  }
  row = (await ctx.api.getLabelRows(projectHash, [labelHash]))[0] ?? row;
  if (!row) throw new PermanentError("encord_row_missing", `Encord returned no label row ${labelHash}`);

  const units = Object.values((row.data_units ?? {}) as Record<string, Record<string, unknown>>);
  // Image groups label their first unit (the RGB rendering), as the reader expects.
  const unit = [...units].sort((a, b) => Number(a.data_sequence ?? 0) - Number(b.data_sequence ?? 0))[0];
  if (!unit) throw new PermanentError("encord_row_invalid", `label row ${labelHash} has no data unit`);
  const labels = (unit.labels ?? { objects: [], classifications: [] }) as { objects?: Record<string, unknown>[]; classifications?: unknown[] };
  const existing = labels.objects ?? [];
  if (existing.some((o) => o.manualAnnotation !== false)) return "kept_human_labels";
  if (unit.width !== request.mask.width || unit.height !== request.mask.height) {
    throw new PermanentError("encord_size_mismatch", `label row ${labelHash} is ${String(unit.width)}×${String(unit.height)}, the pre-label ${request.mask.width}×${request.mask.height}`);
  }

  const annotation = fromSemanticRaster({ width: request.mask.width, height: request.mask.height, data: request.mask.data }, {
    itemId: request.itemId, ontology, provenance: { backend: "encord", labelId: labelHash, annotator: null, editedAt: ctx.clock.now().toISOString() },
    // Every ontology class is drawn (Fill included: nodata may be Fill); 255 is "no prediction".
    background: 255, ignoreValue: 255,
  });
  const written = toEncordLabelRow(annotation, ontology, { labelHash, dataHash: meta.data_hash, dataTitle: String(unit.data_title ?? ""), dataType: "image" });
  const ours = (Object.values(written.data_units as Record<string, { labels: { objects: Record<string, unknown>[] } }>)[0]?.labels.objects ?? []).map((o) => ({
    ...o,
    objectHash: objectHash(request.itemId, request.modelId, String(o.objectHash)),
    manualAnnotation: false,
    createdBy: null,
  }));
  const answers = { ...((row.object_answers ?? {}) as Record<string, unknown>) };
  for (const o of existing) delete answers[String(o.objectHash)];
  for (const o of ours) answers[o.objectHash] = { objectHash: o.objectHash, classifications: [] };
  const unitHash = String(unit.data_hash);
  const saved = {
    ...row,
    data_units: { ...(row.data_units as Record<string, unknown>), [unitHash]: { ...unit, labels: { ...labels, objects: ours } } },
    object_answers: answers,
  };
  await ctx.api.saveLabelRows(projectHash, [{ labelHash, row: saved }]);
  await ctx.api.setPriorities(projectHash, [[meta.data_hash, Math.max(0, Math.min(1, request.priority))]]);
  return "saved";
}

/** 8 characters, as the SDK's `short_uuid_str` (base64 of 6 bytes), derived so a retry reuses them. */
function objectHash(itemId: string, modelId: string, objectId: string): string {
  return createHash("sha256").update(`${itemId}|${modelId}|${objectId}`).digest().subarray(0, 6).toString("base64");
}
