import * as z from "zod";
import { PermanentError } from "../../errors.ts";
import type { CanonicalAnnotation, CanonicalObject, Classification } from "./canonical.ts";
import { AttributeAnswerSchema, answersToAttributes, singleOptionNames, type AttributeAnswer } from "./encord-answers.ts";
import { parseEncordTimestamp } from "./encord-time.ts";
import { classIdOf, type Ontology } from "./ontology.ts";
import { frameCounts, polygonRings, rotatedEnvelope } from "./encord-geometry.ts";

export { toEncordLabelRow, type EncordUnitSpec, type ToEncordLabelRowOptions } from "./encord-label-row-write.ts";

/**
 * Encord label row (docs/encord.md §7 Label rows) → canonical annotation. Only `image` and `img_group` rows
 * are ours: a product is an image group of an RGB and a NIR unit of the same size, and an object
 * drawn on either is the same object (one per `objectHash`, first occurrence wins).
 * Coordinates arrive normalised to 0..1 and leave in pixels. Provenance: `label_hash`, the row's
 * `last_edited_at` (else `created_at`), and as annotator whoever edited an object or a
 * classification most recently (classifications count too, so classification-only labels have one).
 */

const NormalisedBox = z.object({ x: z.number(), y: z.number(), w: z.number(), h: z.number() });
const Point = z.object({ x: z.number(), y: z.number() });
const Editing = {
  createdAt: z.string().nullish(),
  createdBy: z.string().nullish(),
  lastEditedAt: z.string().nullish(),
  lastEditedBy: z.string().nullish(),
};

const FrameObjectSchema = z.object({
  objectHash: z.string().min(1),
  featureHash: z.string().nullish(),
  name: z.string().default(""),
  shape: z.string(),
  isDeleted: z.boolean().nullish(),
  ...Editing,
  boundingBox: NormalisedBox.nullish(),
  rotatableBoundingBox: NormalisedBox.extend({ theta: z.number().default(0) }).nullish(),
  polygon: z.union([z.record(z.string(), Point), z.array(Point)]).nullish(),
  polygons: z.array(z.array(z.array(z.number()))).nullish(),
  bitmask: z
    .object({
      // Placement of the mask in the frame. The SDK always writes 0, 0 and the frame's size
      // (encord/objects/coordinates.py), but the fields exist, so a crop is placed where it says.
      top: z.number().int().nonnegative().default(0),
      left: z.number().int().nonnegative().default(0),
      width: z.number().int().positive(),
      height: z.number().int().positive(),
      rleString: z.string(),
    })
    .nullish(),
});
type FrameObject = z.infer<typeof FrameObjectSchema>;

const FrameClassificationSchema = z.object({
  classificationHash: z.string().min(1),
  featureHash: z.string().nullish(),
  name: z.string().default(""),
  ...Editing,
});
type FrameClassification = z.infer<typeof FrameClassificationSchema>;

const FrameLabelsSchema = z.object({
  objects: z.array(FrameObjectSchema).default([]),
  classifications: z.array(FrameClassificationSchema).default([]),
});
type FrameLabels = z.infer<typeof FrameLabelsSchema>;

const LabelRowSchema = z.object({
  label_hash: z.string().min(1).nullable(),
  data_type: z.string(),
  created_at: z.string().nullish(),
  last_edited_at: z.string().nullish(),
  data_units: z.record(
    z.string(),
    z.object({
      data_sequence: z.union([z.number(), z.string()]).nullish(),
      width: z.number().int().positive().nullish(),
      height: z.number().int().positive().nullish(),
      labels: z.record(z.string(), z.unknown()).nullish(),
    }),
  ),
  object_answers: z.record(z.string(), z.object({ classifications: z.array(AttributeAnswerSchema).default([]) })).nullish(),
  classification_answers: z
    .record(z.string(), z.object({ classificationHash: z.string().optional(), classifications: z.array(AttributeAnswerSchema).default([]) }))
    .nullish(),
});
type LabelRow = z.infer<typeof LabelRowSchema>;

export interface FromEncordLabelRowOptions {
  itemId: string;
  ontology: Ontology;
  /** Used when the data unit does not say its size. */
  width?: number;
  height?: number;
}

/** `notes` say what was left out on purpose (objects of shapes we do not use, of classes not ours). */
export type LabelConversion = { ok: true; annotation: CanonicalAnnotation; notes: string[] } | { ok: false; error: string };

/** Shapes with a canonical form; any other shape (point, polyline, skeleton, cuboid…) is not ours. */
const USABLE_SHAPES: ReadonlySet<string> = new Set(["bounding_box", "rotatable_bounding_box", "polygon", "bitmask"]);

export function fromEncordLabelRow(row: unknown, options: FromEncordLabelRowOptions): LabelConversion {
  const parsed = LabelRowSchema.safeParse(row);
  if (!parsed.success) return { ok: false, error: `not an Encord label row: ${z.prettifyError(parsed.error)}` };
  try {
    const notes: string[] = [];
    return { ok: true, annotation: convert(parsed.data, options, notes), notes };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

function convert(row: LabelRow, options: FromEncordLabelRowOptions, notes: string[]): CanonicalAnnotation {
  if (row.label_hash === null) throw new PermanentError("invalid_label", "label row has no label yet (label_hash is null)");
  if (row.data_type !== "image" && row.data_type !== "img_group") {
    throw new PermanentError("invalid_label", `label row data_type "${row.data_type}" is not supported (expected image or img_group)`);
  }
  const units = Object.entries(row.data_units)
    .map(([hash, unit]) => ({ hash, ...unit, sequence: Number(unit.data_sequence ?? 0) }))
    .sort((a, b) => a.sequence - b.sequence);
  if (units.length === 0) throw new PermanentError("invalid_label", "label row has no data units");
  const { width, height } = frameSize(units, options);

  const objects: CanonicalObject[] = [];
  const seenObjects = new Set<string>();
  const frameClassifications: FrameClassification[] = [];
  const editors: Editor[] = [];
  for (const unit of units) {
    for (const frame of framesOf(unit.labels, unit.hash)) {
      for (const object of frame.objects) {
        if (object.isDeleted) continue;
        editors.push(editorOf(object));
        if (seenObjects.has(object.objectHash)) continue;
        seenObjects.add(object.objectHash);
        if (!USABLE_SHAPES.has(object.shape)) {
          // A project may use other shapes for its own purposes (points marking a feature, a
          // polyline coastline): those are not our classes and do not spoil the label. A class of
          // ours drawn in such a shape is a label we cannot read, and says so.
          const classId = classIdOf(options.ontology, { featureHash: object.featureHash, name: object.name });
          const what = `object ${object.objectHash} ("${object.name}", ${object.shape})`;
          if (classId !== null) {
            throw new PermanentError("invalid_label", `${what}: class "${object.name}" is drawn as a ${object.shape}, which has no canonical form (box, polygon or mask)`);
          }
          notes.push(`${what} skipped: its shape has no canonical form and its class is not in the ontology`);
          continue;
        }
        const answers = row.object_answers?.[object.objectHash]?.classifications ?? [];
        objects.push(canonicalObject(object, answers, width, height, options.ontology));
      }
      for (const classification of frame.classifications) {
        editors.push(editorOf(classification));
        frameClassifications.push(classification);
      }
    }
  }
  const classifications = canonicalClassifications(frameClassifications, row, options.ontology);

  return {
    schema: "canonical-annotation/v1",
    itemId: options.itemId,
    image: { width, height },
    objects,
    classifications,
    provenance: {
      backend: "encord",
      labelId: row.label_hash,
      annotator: mostRecentEditor(editors),
      editedAt: editedAtOf(row, editors),
    },
  };
}

function frameSize(units: readonly { hash: string; width?: number | null; height?: number | null }[], options: FromEncordLabelRowOptions): { width: number; height: number } {
  const sized = units.filter((u) => u.width != null && u.height != null);
  const first = sized[0];
  const differing = sized.find((u) => u.width !== first?.width || u.height !== first?.height);
  if (first && differing) {
    throw new PermanentError("invalid_label", `image group units differ in size: ${first.hash} is ${first.width}×${first.height}, ${differing.hash} is ${differing.width}×${differing.height}`);
  }
  const width = first?.width ?? options.width;
  const height = first?.height ?? options.height;
  if (!width || !height) throw new PermanentError("invalid_label", "label row does not say the image size and none was given");
  return { width, height };
}

/** `{objects, classifications}` for images; video-like `{"<frame>": {…}}` is read too, frames in order. */
function framesOf(labels: Record<string, unknown> | null | undefined, unitHash: string): FrameLabels[] {
  if (!labels) return [];
  const parse = (value: unknown, where: string): FrameLabels => {
    const parsed = FrameLabelsSchema.safeParse(value);
    if (!parsed.success) throw new PermanentError("invalid_label", `labels of ${where}: ${z.prettifyError(parsed.error)}`);
    return parsed.data;
  };
  if ("objects" in labels || "classifications" in labels) return [parse(labels, `unit ${unitHash}`)];
  return Object.keys(labels)
    .filter((key) => /^\d+$/.test(key))
    .sort((a, b) => Number(a) - Number(b))
    .map((key) => parse(labels[key], `unit ${unitHash} frame ${key}`));
}

function canonicalObject(object: FrameObject, answers: readonly AttributeAnswer[], width: number, height: number, ontology: Ontology): CanonicalObject {
  const base: Pick<CanonicalObject, "id" | "classId" | "className" | "attributes"> = {
    id: object.objectHash,
    classId: classIdOf(ontology, { featureHash: object.featureHash, name: object.name }),
    className: object.name,
  };
  const attributes = answersToAttributes(answers);
  if (attributes) base.attributes = attributes;
  const what = `object ${object.objectHash} ("${object.name}", ${object.shape})`;
  const missing = (): never => {
    throw new PermanentError("invalid_label", `${what} has no coordinates`);
  };

  switch (object.shape) {
    case "bounding_box": {
      const b = object.boundingBox ?? missing();
      return { ...base, kind: "box", box: { x: b.x * width, y: b.y * height, w: b.w * width, h: b.h * height } };
    }
    case "rotatable_bounding_box": {
      // Canonical boxes are axis-aligned: a rotated box becomes its axis-aligned envelope. Encord
      // does not document theta's unit (docs/encord.md §7.4, §11); we read degrees, rotating about the box centre.
      const b = object.rotatableBoundingBox ?? missing();
      return { ...base, kind: "box", box: rotatedEnvelope(b.x * width, b.y * height, b.w * width, b.h * height, b.theta) };
    }
    case "polygon": {
      const rings = polygonRings(object, what) ?? missing();
      return { ...base, kind: "polygon", polygon: rings.map((ring) => ring.map((v, i) => v * (i % 2 === 0 ? width : height))) };
    }
    case "bitmask": {
      const bitmask = object.bitmask ?? missing();
      try {
        return { ...base, kind: "mask", mask: { counts: frameCounts(bitmask, width, height) } };
      } catch (err) {
        throw new PermanentError("invalid_label", `${what}: ${(err as Error).message}`);
      }
    }
    default:
      throw new PermanentError("invalid_label", `${what}: shape "${object.shape}" has no canonical form (box, polygon or mask)`);
  }
}

/**
 * Frame classifications with their answers, then global ones that exist only in
 * `classification_answers`. An entry without answers is ignored, as the SDK does. The class is the
 * entry's name when the ontology knows it, else the first single-option answer the ontology knows
 * (a radio "Scene: cloudy" is class "cloudy"), else the entry's name (unknown → classId null).
 */
function canonicalClassifications(frameEntries: readonly FrameClassification[], row: LabelRow, ontology: Ontology): Classification[] {
  const answersByHash = row.classification_answers ?? {};
  const out: Classification[] = [];
  const seen = new Set<string>();
  const add = (hash: string, entryName: string | undefined, answers: readonly AttributeAnswer[]) => {
    if (seen.has(hash)) return;
    seen.add(hash);
    const known = (name: string) => classIdOf(ontology, { name }) !== null;
    const name = entryName && known(entryName) ? entryName : (singleOptionNames(answers).find(known) ?? entryName ?? answers[0]?.name ?? "");
    const classification: Classification = { classId: classIdOf(ontology, { name }), className: name };
    const attributes = answersToAttributes(answers);
    if (attributes) classification.attributes = attributes;
    out.push(classification);
  };
  for (const entry of frameEntries) {
    const answers = answersByHash[entry.classificationHash];
    if (answers) add(entry.classificationHash, entry.name, answers.classifications);
  }
  for (const [hash, answers] of Object.entries(answersByHash)) add(hash, undefined, answers.classifications);
  return out;
}

interface Editor {
  by: string | null;
  at: string | null;
}

function editorOf(entry: { createdAt?: string | null; createdBy?: string | null; lastEditedAt?: string | null; lastEditedBy?: string | null }): Editor {
  const at = entry.lastEditedAt ?? entry.createdAt;
  return { by: entry.lastEditedBy ?? entry.createdBy ?? null, at: at ? parseEncordTimestamp(at) : null };
}

/** Who touched the label last: the editor with the latest timestamp (an undated edit counts as oldest). */
function mostRecentEditor(editors: readonly Editor[]): string | null {
  let best: Editor | null = null;
  for (const editor of editors) {
    if (editor.by === null) continue;
    if (!best || (editor.at ?? "") > (best.at ?? "")) best = editor;
  }
  return best?.by ?? null;
}

function editedAtOf(row: LabelRow, editors: readonly Editor[]): string {
  for (const [field, value] of [["last_edited_at", row.last_edited_at], ["created_at", row.created_at]] as const) {
    if (value == null) continue;
    const parsed = parseEncordTimestamp(value);
    if (parsed === null) throw new PermanentError("invalid_label", `label row ${field} "${value}" is not a timestamp we can read`);
    return parsed;
  }
  const latest = editors.map((e) => e.at).filter((at): at is string => at !== null).sort().at(-1);
  if (latest === undefined) throw new PermanentError("invalid_label", "label row says nowhere when it was edited");
  return latest;
}
