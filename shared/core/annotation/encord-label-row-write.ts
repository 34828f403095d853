import type { CanonicalAnnotation, CanonicalObject } from "./canonical.ts";
import { attributesToAnswers, snakeCase } from "./encord-answers.ts";
import { formatEncordTimestamp } from "./encord-time.ts";
import { classById, type Ontology } from "./ontology.ts";
import { countsToString } from "./rle.ts";

/**
 * Canonical annotation → Encord label row in the wire shape of docs/encord.md §7.2–7.6. Used by
 * the demo annotator simulator and the fake Encord server, so the reader is exercised on the same
 * shapes Encord sends. Classes not bound to an Encord object get a stand-in feature hash
 * (`class-<id>`); the reader then matches them by name.
 */

export interface EncordUnitSpec {
  dataHash: string;
  dataTitle: string;
  dataLink?: string;
  /** MIME type of the unit (default `image/png`). */
  mimeType?: string;
  /** Whether this unit carries the objects and classifications (default: only the first unit). */
  labelled?: boolean;
}

export interface ToEncordLabelRowOptions {
  labelHash: string;
  dataHash: string;
  dataTitle: string;
  dataType: "image" | "img_group";
  /** Data units (image group: RGB then NIR). Default: one unit with the row's data hash and title. */
  units?: EncordUnitSpec[];
  datasetHash?: string;
}

/** The JSON document; typed loosely because it only ever leaves as JSON. */
export type EncordLabelRowJson = Record<string, unknown>;

export function toEncordLabelRow(annotation: CanonicalAnnotation, ontology: Ontology, options: ToEncordLabelRowOptions): EncordLabelRowJson {
  const { width, height } = annotation.image;
  const at = formatEncordTimestamp(annotation.provenance.editedAt);
  const annotator = annotation.provenance.annotator;
  const editing = annotator === null ? { createdAt: at, lastEditedAt: at } : { createdAt: at, createdBy: annotator, lastEditedAt: at, lastEditedBy: annotator };

  const objects = annotation.objects.map((object) => ({
    objectHash: object.id,
    featureHash: featureHashOf(ontology, object.classId, object.className),
    name: object.className,
    value: snakeCase(object.className),
    shape: shapeOf(object),
    confidence: 1,
    manualAnnotation: true,
    ...editing,
    ...coordinatesOf(object, width, height),
  }));
  const classifications = annotation.classifications.map((classification, index) => ({
    classificationHash: `classification-${index}`,
    featureHash: featureHashOf(ontology, classification.classId, classification.className),
    name: classification.className,
    value: snakeCase(classification.className),
    confidence: 1,
    manualAnnotation: true,
    ...editing,
  }));

  const units = options.units ?? [{ dataHash: options.dataHash, dataTitle: options.dataTitle }];
  const anyLabelled = units.some((unit) => unit.labelled !== undefined);
  const dataUnits: Record<string, unknown> = {};
  units.forEach((unit, index) => {
    const labelled = anyLabelled ? unit.labelled === true : index === 0;
    dataUnits[unit.dataHash] = {
      data_hash: unit.dataHash,
      data_title: unit.dataTitle,
      data_link: unit.dataLink ?? unit.dataTitle,
      data_type: unit.mimeType ?? "image/png",
      data_sequence: options.dataType === "img_group" ? String(index) : 0,
      width,
      height,
      labels: labelled ? { objects, classifications } : { objects: [], classifications: [] },
    };
  });

  return {
    label_hash: options.labelHash,
    branch_name: "main",
    created_at: at,
    last_edited_at: at,
    dataset_hash: options.datasetHash ?? "",
    dataset_title: "",
    data_title: options.dataTitle,
    data_hash: options.dataHash,
    data_type: options.dataType,
    label_status: "LABELLED",
    annotation_task_status: "COMPLETED",
    is_shadow_data: false,
    data_units: dataUnits,
    object_answers: Object.fromEntries(
      annotation.objects.map((object) => [object.id, { objectHash: object.id, classifications: attributesToAnswers(object.attributes) }]),
    ),
    classification_answers: Object.fromEntries(
      annotation.classifications.map((classification, index) => [
        `classification-${index}`,
        {
          classificationHash: `classification-${index}`,
          featureHash: featureHashOf(ontology, classification.classId, classification.className),
          classifications: attributesToAnswers(classification.attributes),
        },
      ]),
    ),
    object_actions: {},
  };
}

function featureHashOf(ontology: Ontology, classId: number | null, className: string): string {
  const cls = classById(ontology, classId);
  if (cls) return cls.featureNodeHash ?? `class-${cls.id}`;
  return `unknown-${snakeCase(className)}`;
}

function shapeOf(object: CanonicalObject): string {
  switch (object.kind) {
    case "box":
      return "bounding_box";
    case "polygon":
      return "polygon";
    case "mask":
      return "bitmask";
  }
}

function coordinatesOf(object: CanonicalObject, width: number, height: number): Record<string, unknown> {
  switch (object.kind) {
    case "box":
      return { boundingBox: { x: object.box.x / width, y: object.box.y / height, w: object.box.w / width, h: object.box.h / height } };
    case "polygon": {
      const rings = object.polygon.map((ring) => ring.map((v, i) => v / (i % 2 === 0 ? width : height)));
      // Both layouts, as the SDK writes them: legacy readers take the first ring's point map.
      const legacy: Record<string, { x: number; y: number }> = {};
      const first = rings[0] ?? [];
      for (let i = 0; i + 1 < first.length; i += 2) legacy[String(i / 2)] = { x: first[i]!, y: first[i + 1]! };
      return { polygon: legacy, polygons: rings.map((ring) => [ring]) };
    }
    case "mask":
      return { bitmask: { top: 0, left: 0, width, height, rleString: countsToString(object.mask.counts) } };
  }
}
