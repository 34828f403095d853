import { PermanentError } from "../../errors.ts";
import type { CanonicalAnnotation, CanonicalObject, Provenance } from "./canonical.ts";
import { classById, type Ontology } from "./ontology.ts";
import { semanticMask } from "./rasterise.ts";
import { encodeRowMajor } from "./rle.ts";

/**
 * Semantic mask rasters (one 8-bit class id per pixel) — the pixels of the mask PNG export. PNG
 * encoding lives in the imaging adapter; this module only turns annotations into bytes and back.
 *
 * The round trip is lossless for "semantic" annotations: non-overlapping masks, one per class, no
 * mask of the background class, ids `${itemId}#class-${classId}`, in class order.
 */

export interface SemanticRaster {
  width: number;
  height: number;
  /** width × height class ids, row-major. */
  data: Uint8Array;
}

export function toSemanticRaster(annotation: CanonicalAnnotation, background = 0): SemanticRaster {
  return { width: annotation.image.width, height: annotation.image.height, data: semanticMask(annotation, { background }) };
}

export interface FromSemanticRasterOptions {
  itemId: string;
  ontology: Ontology;
  provenance: Provenance;
  /** Pixel value that is not an object (default 0). */
  background?: number;
  /** A value to leave out too, e.g. 255 for nodata in training masks. */
  ignoreValue?: number;
}

/** One mask object per class value present (other than background), in class order. */
export function fromSemanticRaster(raster: SemanticRaster, options: FromSemanticRasterOptions): CanonicalAnnotation {
  const { width, height, data } = raster;
  if (data.length !== width * height) {
    throw new PermanentError("invalid_mask", `semantic raster has ${data.length} pixels, expected ${width}×${height}`);
  }
  const background = options.background ?? 0;
  const present = new Uint8Array(256);
  for (let i = 0; i < data.length; i++) present[data[i]!] = 1;

  const objects: CanonicalObject[] = [];
  const classMask = new Uint8Array(data.length);
  for (let value = 0; value < 256; value++) {
    if (!present[value] || value === background || value === options.ignoreValue) continue;
    for (let i = 0; i < data.length; i++) classMask[i] = data[i] === value ? 1 : 0;
    const cls = classById(options.ontology, value);
    objects.push({
      id: `${options.itemId}#class-${value}`,
      // A value the ontology lacks stays visible as an unknown class, for quality checks to reject.
      classId: cls ? value : null,
      className: cls?.name ?? `class ${value}`,
      kind: "mask",
      mask: { counts: encodeRowMajor(classMask, width, height) },
    });
  }
  return {
    schema: "canonical-annotation/v1",
    itemId: options.itemId,
    image: { width, height },
    objects,
    classifications: [],
    provenance: options.provenance,
  };
}
