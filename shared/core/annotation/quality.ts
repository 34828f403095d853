import { PermanentError } from "../../errors.ts";
import type { CanonicalAnnotation, CanonicalObject } from "./canonical.ts";
import { classById, fillClassId, type Ontology } from "./ontology.ts";
import { forEachSpan, polygonArea } from "./rasterise.ts";
import { sumCounts } from "./rle.ts";

/**
 * Quality checks run on every finished label before it can enter a dataset. Every failing rule
 * adds a reason naming the object and its class, so an annotator can fix all of them in one pass.
 * Work is bounded: counts are summed without decoding, and each mask or polygon is walked at most
 * once (only when there is nodata to compare against).
 */

export interface QualityContext {
  ontology: Ontology;
  /** The item's image size, as normalised. */
  image: { width: number; height: number };
  /** width × height, 255 where the source had no data; null when it had none. */
  nodataMask: Uint8Array | null;
  /** Item id of an accepted sample with the same content, or null. */
  duplicateOf: string | null;
  task: "segmentation" | "detection" | "classification";
  /** Class allowed on nodata pixels; default the ontology's fill class (`Fill`), if any. */
  fillClassId?: number | null;
}

export interface QualityResult {
  verdict: "accepted" | "rejected";
  reasons: string[];
}

/** Boxes may overhang the image by this much (annotation tools snap to pixel edges ± rounding). */
const BOX_TOLERANCE_PX = 0.5;

export function checkQuality(annotation: CanonicalAnnotation, ctx: QualityContext): QualityResult {
  const reasons: string[] = [];
  const { width, height } = ctx.image;
  const pixels = width * height;

  if (ctx.duplicateOf !== null) reasons.push(`duplicate sample: same content as accepted item "${ctx.duplicateOf}"`);
  if (annotation.image.width !== width || annotation.image.height !== height) {
    reasons.push(`annotation image size ${annotation.image.width}×${annotation.image.height} differs from the item's image ${width}×${height}`);
  }

  // A segmentation (or detection) label with no objects at all is accepted: an image that is all
  // background (or has nothing to detect) is a legitimate, useful negative sample.
  if (ctx.task === "classification") checkClassifications(annotation, ctx.ontology, reasons);

  const nodata = nodataOf(ctx, pixels);
  const fill = ctx.fillClassId !== undefined ? ctx.fillClassId : fillClassId(ctx.ontology);
  const fillName = classById(ctx.ontology, fill)?.name;
  for (const object of annotation.objects) {
    const what = describe(object);
    const classKnown = classById(ctx.ontology, object.classId) !== undefined;
    if (!classKnown) reasons.push(`${what}: class is not in the ontology`);

    let geometryOk = true;
    switch (object.kind) {
      case "mask": {
        const covered = safeSum(object.mask.counts);
        if (covered !== pixels) {
          geometryOk = false;
          reasons.push(`${what}: mask size does not equal image size (RLE covers ${covered ?? "an invalid number of"} pixels, image has ${width}×${height} = ${pixels})`);
        }
        break;
      }
      case "box":
        geometryOk = checkBox(object, what, width, height, reasons);
        break;
      case "polygon":
        geometryOk = checkPolygon(object, what, reasons);
        break;
    }

    // Nodata pixels are the fill class or unlabelled. Boxes are exempt: a box around a cloud at the
    // swath edge naturally includes nodata, while a mask or polygon claims each pixel it covers.
    if (nodata && geometryOk && classKnown && object.kind !== "box" && object.classId !== fill) {
      let onNodata = 0;
      forEachSpan(object, width, height, (start, end) => {
        for (let i = start; i < end; i++) if (nodata[i] === 255) onNodata++;
      });
      if (onNodata > 0) reasons.push(`${what}: ${onNodata} pixel(s) on nodata, which must be ${fillName ? `${fillName} or ` : ""}unlabelled`);
    }
  }
  return { verdict: reasons.length === 0 ? "accepted" : "rejected", reasons };
}

function describe(object: CanonicalObject): string {
  return `${object.kind} "${object.id}" (class "${object.className}")`;
}

function checkClassifications(annotation: CanonicalAnnotation, ontology: Ontology, reasons: string[]): void {
  if (annotation.classifications.length === 0) {
    reasons.push("classification task: the label has no classification");
    return;
  }
  for (const classification of annotation.classifications) {
    if (classById(ontology, classification.classId) === undefined) {
      reasons.push(`classification "${classification.className}": class is not in the ontology`);
    }
  }
}

function checkBox(object: CanonicalObject & { kind: "box" }, what: string, width: number, height: number, reasons: string[]): boolean {
  const { x, y, w, h } = object.box;
  if (![x, y, w, h].every(Number.isFinite)) {
    reasons.push(`${what}: box has a non-finite coordinate`);
    return false;
  }
  let ok = true;
  if (w < 1 || h < 1) {
    reasons.push(`${what}: box is degenerate (${w}×${h} px; needs at least 1×1)`);
    ok = false;
  }
  const t = BOX_TOLERANCE_PX;
  if (x < -t || y < -t || x + w > width + t || y + h > height + t) {
    reasons.push(`${what}: box [${x}, ${y}, ${x + w}, ${y + h}] lies outside the image ${width}×${height}`);
    ok = false;
  }
  return ok;
}

function checkPolygon(object: CanonicalObject & { kind: "polygon" }, what: string, reasons: string[]): boolean {
  let ok = true;
  object.polygon.forEach((ring, index) => {
    const where = object.polygon.length > 1 ? `${what} ring ${index + 1}` : what;
    if (!ring.every(Number.isFinite)) {
      reasons.push(`${where}: polygon has a non-finite coordinate`);
      ok = false;
      return;
    }
    const distinct = new Set<string>();
    for (let i = 0; i + 1 < ring.length; i += 2) distinct.add(`${ring[i]},${ring[i + 1]}`);
    if (distinct.size < 3) {
      reasons.push(`${where}: polygon has ${distinct.size} distinct point(s); needs at least 3`);
      ok = false;
    } else if (polygonArea(ring) === 0) {
      reasons.push(`${where}: polygon has zero area`);
      ok = false;
    }
  });
  return ok;
}

function nodataOf(ctx: QualityContext, pixels: number): Uint8Array | null {
  if (!ctx.nodataMask) return null;
  if (ctx.nodataMask.length !== pixels) {
    // Our own input, not the annotator's: fail loudly rather than reject a label for it.
    throw new PermanentError("nodata_mask_size", `checkQuality: nodata mask has ${ctx.nodataMask.length} pixels, image has ${ctx.image.width}×${ctx.image.height}`);
  }
  // Skip the per-object walk entirely when there is no nodata pixel.
  return ctx.nodataMask.includes(255) ? ctx.nodataMask : null;
}

function safeSum(counts: readonly number[]): number | null {
  try {
    return sumCounts(counts);
  } catch {
    return null;
  }
}
