import type { CanonicalAnnotation } from "../core/annotation/canonical.ts";
import { toEncordLabelRow } from "../core/annotation/encord-label-row-write.ts";
import { fromSemanticRaster } from "../core/annotation/mask-png.ts";
import { countsToString, encodeRowMajor } from "../core/annotation/rle.ts";
import type { Ontology } from "../core/annotation/ontology.ts";
import { createPrng } from "../core/demo/prng.ts";
import { SceneClass } from "../core/demo/scenes.ts";
import { sha256Hex } from "../core/json.ts";

/** The mistakes the simulated annotation team makes, each caught by one quality check. */
export const LABEL_MISTAKES = ["unknown_class", "cloud_on_nodata", "wrong_mask_size", "degenerate_box"] as const;
export type LabelMistake = (typeof LABEL_MISTAKES)[number];

export interface SimulatedLabelInput {
  itemId: string;
  title: string;
  groundTruth: { width: number; height: number; mask: Uint8Array };
  ontology: Ontology;
  revision: number;
  annotator: string;
  editedAt: Date;
  mistake: LabelMistake | null;
}

/** Whether (and how) this annotator gets this item wrong: deterministic per item and revision. */
export function pickMistake(title: string, revision: number, badShare: number, seed: number): LabelMistake | null {
  const prng = createPrng(parseInt(sha256Hex(`${seed}:${title}:${revision}`).slice(0, 8), 16));
  if (prng.next() >= badShare) return null;
  return LABEL_MISTAKES[Math.floor(prng.next() * LABEL_MISTAKES.length)] ?? "unknown_class";
}

/**
 * An Encord label row for a demo product: the ground-truth classes (the seed project's Fill, Clear,
 * Cloud, Thin_Cloud, Cloud_Shadow) as bitmask objects on the RGB frame of the RGB + NIR image group
 * — nodata painted Fill, as the seed's annotators do — possibly with one deliberate mistake.
 */
export function simulatedLabelRow(input: SimulatedLabelInput): Record<string, unknown> {
  const { width, height, mask } = input.groundTruth;
  const data = new Uint8Array(mask);
  if (input.mistake === "cloud_on_nodata") {
    // Annotators painting the swath border as cloud: nodata must be Fill or unlabelled.
    for (let i = 0; i < data.length; i++) if (data[i] === SceneClass.fill) data[i] = SceneClass.cloud;
  }
  const provenance = { backend: "local", labelId: labelHash(input), annotator: input.annotator, editedAt: input.editedAt.toISOString() };
  // No pixel value is left out (256 matches none): the Fill class is drawn over nodata like any other.
  const annotation: CanonicalAnnotation = fromSemanticRaster({ width, height, data }, { itemId: input.itemId, ontology: input.ontology, provenance, background: 256 });
  if (input.mistake === "unknown_class") {
    annotation.objects.push({ id: `${input.itemId}#snow`, classId: null, className: "snow", kind: "box", box: { x: 2, y: 2, w: 8, h: 8 } });
  }
  if (input.mistake === "degenerate_box") {
    annotation.objects.push({ id: `${input.itemId}#flat`, classId: SceneClass.clear, className: input.ontology.classes[SceneClass.clear]?.name ?? "Clear", kind: "box", box: { x: 10, y: 10, w: 0, h: 6 } });
  }
  const row = toEncordLabelRow(annotation, input.ontology, {
    labelHash: provenance.labelId,
    dataHash: `data-${input.itemId}`,
    dataTitle: input.title,
    dataType: "img_group",
    units: [
      { dataHash: `unit-${input.itemId}-rgb`, dataTitle: `${input.title}_rgb.png`, labelled: true },
      { dataHash: `unit-${input.itemId}-nir`, dataTitle: `${input.title}_nir.png`, labelled: false },
    ],
  });
  row.client_metadata = { itemId: input.itemId };
  if (input.mistake === "wrong_mask_size") corruptFirstBitmask(row, width, height);
  return row;
}

function labelHash(input: SimulatedLabelInput): string {
  return `lbl-${sha256Hex(`${input.itemId}`).slice(0, 12)}`;
}

/**
 * Replaces the first bitmask with one a row taller than the image: it cannot be placed in the
 * frame, so the "mask size equals image size" check fails. (A shorter one would not do: a bitmask
 * smaller than the frame is a crop placed at its top/left, and short counts are padded.)
 */
function corruptFirstBitmask(row: Record<string, unknown>, width: number, height: number): void {
  type Bitmask = { rleString: string; width: number; height: number };
  const units = row.data_units as Record<string, { labels?: { objects?: { bitmask?: Bitmask }[] } }>;
  for (const unit of Object.values(units)) {
    const object = unit.labels?.objects?.find((o) => o.bitmask);
    if (object?.bitmask) {
      object.bitmask.height = height + 1;
      object.bitmask.rleString = countsToString(encodeRowMajor(new Uint8Array(width * (height + 1)).fill(1), width, height + 1));
      return;
    }
  }
}
