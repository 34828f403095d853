import { PermanentError } from "../../errors.ts";
import type { CanonicalAnnotation, CanonicalObject, Provenance } from "./canonical.ts";
import { classById, type Ontology } from "./ontology.ts";
import { polygonBounds } from "./rasterise.ts";

/**
 * YOLO txt labels (Ultralytics layout): one line per object, class id then coordinates normalised
 * to 0..1 — `cls cx cy w h` for boxes, `cls x1 y1 x2 y2 …` (YOLO-seg) for polygons. An image with
 * no objects gets an empty file, which YOLO reads as a negative sample; it must not be dropped.
 */

export interface YoloExport {
  /** The label file content ("" for an image without objects). */
  text: string;
  /** Objects YOLO cannot hold (masks, unknown classes), with the reason, for the exporter to report. */
  skipped: { objectId: string; reason: string }[];
  /** Things that changed shape on the way (multi-ring polygons, mixed files). */
  warnings: string[];
}

/**
 * - `auto` (default): boxes as box lines, polygons as segment lines.
 * - `detect`: polygons become their bounding boxes.
 * - `segment`: boxes become 4-corner polygons.
 * Ultralytics treats a file with any segment line as all segments, so a file that mixes both
 * misreads its box lines; `auto` warns about it and the other two modes avoid it.
 */
export type YoloMode = "auto" | "detect" | "segment";

export function toYolo(annotation: CanonicalAnnotation, options: { mode?: YoloMode } = {}): YoloExport {
  const mode = options.mode ?? "auto";
  const { width, height } = annotation.image;
  const lines: string[] = [];
  const skipped: YoloExport["skipped"] = [];
  const warnings: string[] = [];
  let boxLines = 0;
  let segmentLines = 0;
  for (const object of annotation.objects) {
    if (object.classId === null) {
      skipped.push({ objectId: object.id, reason: `class "${object.className}" is not in the ontology` });
      continue;
    }
    const cls = object.classId;
    if (object.kind === "mask") {
      skipped.push({ objectId: object.id, reason: "YOLO cannot represent masks; the mask PNG export carries them" });
      continue;
    }
    if (object.kind === "box" && mode !== "segment") {
      const { x, y, w, h } = object.box;
      lines.push(line(cls, [(x + w / 2) / width, (y + h / 2) / height, w / width, h / height]));
      boxLines++;
      continue;
    }
    const rings = object.kind === "box" ? [boxCorners(object.box)] : object.polygon;
    if (mode === "detect") {
      lines.push(line(cls, envelopeCentreSize(rings, width, height)));
      boxLines++;
      continue;
    }
    // YOLO-seg holds one ring per line: extra rings (disjoint parts) become further lines of the
    // same class. Holes cannot be expressed and would be filled — say so.
    if (rings.length > 1) warnings.push(`polygon "${object.id}" has ${rings.length} rings, written as ${rings.length} lines`);
    for (const ring of rings) {
      const coords: number[] = [];
      for (let i = 0; i + 1 < ring.length; i += 2) coords.push(ring[i]! / width, ring[i + 1]! / height);
      lines.push(line(cls, coords));
      segmentLines++;
    }
  }
  if (boxLines > 0 && segmentLines > 0) {
    warnings.push(`file mixes ${boxLines} box and ${segmentLines} segment lines; Ultralytics reads such a file as segments (use mode "detect" or "segment")`);
  }
  return { text: lines.map((l) => `${l}\n`).join(""), skipped, warnings };
}

function boxCorners(box: { x: number; y: number; w: number; h: number }): number[] {
  return [box.x, box.y, box.x + box.w, box.y, box.x + box.w, box.y + box.h, box.x, box.y + box.h];
}

function envelopeCentreSize(rings: readonly (readonly number[])[], width: number, height: number): number[] {
  const [x, y, w, h] = polygonBounds(rings);
  return [(x + w / 2) / width, (y + h / 2) / height, w / width, h / height];
}

function line(cls: number, values: readonly number[]): string {
  return [String(cls), ...values.map(formatNumber)].join(" ");
}

/**
 * 12 significant digits: a normalised coordinate then comes back to well within 1e-6 px for any
 * image under 10^5 px, and files stay readable (no 17-digit noise for 0.1 + 0.2).
 */
function formatNumber(value: number): string {
  if (!Number.isFinite(value)) throw new PermanentError("yolo_export", `cannot write non-finite coordinate ${value}`);
  const text = String(Number(value.toPrecision(12)));
  return text === "-0" ? "0" : text;
}

export interface YoloImportOptions {
  itemId: string;
  width: number;
  height: number;
  provenance: Provenance;
  /** Gives class names; without it the name is the class number. */
  ontology?: Ontology;
}

/** Parses a YOLO (detect or seg) label file; object ids are `${itemId}#${line index among objects}`. */
export function fromYolo(text: string, options: YoloImportOptions): CanonicalAnnotation {
  const { itemId, width, height } = options;
  const objects: CanonicalObject[] = [];
  const rows = text.split(/\r?\n/);
  rows.forEach((row, rowIndex) => {
    const trimmed = row.trim();
    if (trimmed === "") return;
    const where = `YOLO line ${rowIndex + 1}`;
    const fields = trimmed.split(/\s+/);
    const [clsField, ...coordFields] = fields;
    if (clsField === undefined || !/^\d+$/.test(clsField)) throw new PermanentError("invalid_yolo", `${where}: class "${clsField}" is not a non-negative integer`);
    const coords = coordFields.map((field) => {
      const value = Number(field);
      if (field === "" || !Number.isFinite(value)) throw new PermanentError("invalid_yolo", `${where}: "${field}" is not a number`);
      return value;
    });
    const classNumber = Number(clsField);
    const cls = options.ontology ? classById(options.ontology, classNumber) : undefined;
    const base = {
      id: `${itemId}#${objects.length}`,
      classId: options.ontology && !cls ? null : classNumber,
      className: cls?.name ?? String(classNumber),
    };
    if (coords.length === 4) {
      const [cx, cy, w, h] = coords as [number, number, number, number];
      objects.push({ ...base, kind: "box", box: { x: (cx - w / 2) * width, y: (cy - h / 2) * height, w: w * width, h: h * height } });
    } else if (coords.length >= 6 && coords.length % 2 === 0) {
      objects.push({ ...base, kind: "polygon", polygon: [coords.map((v, i) => v * (i % 2 === 0 ? width : height))] });
    } else {
      throw new PermanentError("invalid_yolo", `${where}: ${coords.length} coordinates; expected 4 (box) or an even number ≥ 6 (polygon)`);
    }
  });
  return {
    schema: "canonical-annotation/v1",
    itemId,
    image: { width, height },
    objects,
    classifications: [],
    provenance: options.provenance,
  };
}

/** Ultralytics `data.yaml`: `nc` and the `names` list; `paths` adds `path`/`train`/`val`/`test` keys. */
export function yoloDataYaml(ontology: Ontology, paths: { path?: string; train?: string; val?: string; test?: string } = {}): string {
  const lines: string[] = ["# Class ids index the project ontology."];
  for (const key of ["path", "train", "val", "test"] as const) {
    const value = paths[key];
    if (value !== undefined) lines.push(`${key}: ${JSON.stringify(value)}`);
  }
  const classes = [...ontology.classes].sort((a, b) => a.id - b.id);
  classes.forEach((cls, index) => {
    if (cls.id !== index) throw new PermanentError("yolo_export", `YOLO needs class ids 0..n-1; class "${cls.name}" has id ${cls.id}`);
  });
  lines.push(`nc: ${classes.length}`);
  // A list indexed by class id; JSON strings are valid YAML double-quoted scalars, so any name survives.
  lines.push("names:");
  for (const cls of classes) lines.push(`  - ${JSON.stringify(cls.name)}`);
  return `${lines.join("\n")}\n`;
}
