import * as z from "zod";
import { describeError } from "../../errors.ts";
import type { CanonicalAnnotation, CanonicalObject, Provenance } from "./canonical.ts";
import { brushRleToAlpha, maskToBrushRle } from "./labelstudio-rle.ts";
import { LS_CONTROL_NAME, LS_IMAGE_NAME } from "./labelstudio-config.ts";
import { encodeRowMajor } from "./rle.ts";
import type { Ontology } from "./ontology.ts";

/**
 * Label Studio annotation results ↔ canonical annotations. A `brushlabels` result item is one
 * region: `{type, from_name, to_name, original_width, original_height, value: {format: "rle", rle:
 * [bytes], brushlabels: [label]}}` (labelstud.io/tags/brushlabels; BrushLabelsValue in
 * label_studio/core/label_config / the SDK's label_interface/control_tags.py).
 *
 * Regions become a class-id mask: each pixel belongs to the last region (in result order) that
 * covers it, as the editor paints later regions over earlier ones; then one mask object per label.
 * A brush pixel counts when its alpha is ≥ 128: strokes are anti-aliased at their edges, and a
 * faint fringe must not paint a neighbouring class.
 */

export const ALPHA_THRESHOLD = 128;

export const LsResultItemSchema = z.looseObject({
  id: z.string().optional(),
  type: z.string(),
  from_name: z.string().optional(),
  to_name: z.string().optional(),
  original_width: z.number().int().positive().optional(),
  original_height: z.number().int().positive().optional(),
  value: z.looseObject({
    format: z.string().optional(),
    rle: z.array(z.number()).optional(),
    brushlabels: z.array(z.string()).optional(),
  }).optional(),
});
export type LsResultItem = z.infer<typeof LsResultItemSchema>;

export interface FromLabelStudioOptions {
  itemId: string;
  ontology: Ontology;
  provenance: Provenance;
  /** Image size from the task (our registration), used when the result holds no region. */
  imageSize: { width: number; height: number } | null;
  /** The BrushLabels control to read (others are noted and left out); null reads any. */
  control: string | null;
}

export type FromLabelStudioResult =
  | { ok: true; annotation: CanonicalAnnotation; notes: string[] }
  | { ok: false; error: string };

export function fromLabelStudioResult(result: readonly unknown[], options: FromLabelStudioOptions): FromLabelStudioResult {
  try {
    return convert(result, options);
  } catch (err) {
    return { ok: false, error: describeError(err) };
  }
}

function convert(result: readonly unknown[], options: FromLabelStudioOptions): FromLabelStudioResult {
  const notes: string[] = [];
  const brushes: { labels: string[]; alpha: Uint8Array }[] = [];
  let size: { width: number; height: number } | null = null;
  for (const [index, raw] of result.entries()) {
    const parsed = LsResultItemSchema.safeParse(raw);
    if (!parsed.success) return { ok: false, error: `result item ${index} is not a Label Studio result` };
    const item = parsed.data;
    if (item.type !== "brushlabels" || (options.control !== null && item.from_name !== options.control)) {
      notes.push(`result item ${index} (${item.type}${item.from_name ? ` from ${item.from_name}` : ""}) is not a brush of our control; left out`);
      continue;
    }
    const { original_width: width, original_height: height, value } = item;
    if (!width || !height) return { ok: false, error: `brush ${item.id ?? index} has no original_width/original_height` };
    if (value?.format !== undefined && value.format !== "rle") return { ok: false, error: `brush ${item.id ?? index} has format "${value.format}", not rle` };
    if (!value?.rle) return { ok: false, error: `brush ${item.id ?? index} has no rle` };
    if (size && (size.width !== width || size.height !== height)) {
      return { ok: false, error: `brushes disagree on the image size (${size.width}×${size.height} and ${width}×${height})` };
    }
    size = { width, height };
    const labels = value.brushlabels ?? [];
    if (labels.length === 0) return { ok: false, error: `brush ${item.id ?? index} has no label` };
    brushes.push({ labels, alpha: brushRleToAlpha(value.rle, width, height) });
  }
  size ??= options.imageSize;
  if (!size) return { ok: false, error: "the annotation has no brush and the task carries no image size" };

  // Label index per pixel (-1: unlabelled); our classes first, in id order, then unknown names.
  const names = options.ontology.classes.map((c) => c.name);
  const owner = new Int32Array(size.width * size.height).fill(-1);
  for (const brush of brushes) {
    // `choice="single"` is the default: one label per region. Several: the first decides.
    const label = brush.labels[0]!;
    let index = names.indexOf(label);
    if (index < 0) index = names.push(label) - 1;
    for (let p = 0; p < owner.length; p++) if (brush.alpha[p]! >= ALPHA_THRESHOLD) owner[p] = index;
  }
  const objects: CanonicalObject[] = [];
  const mask = new Uint8Array(owner.length);
  for (let index = 0; index < names.length; index++) {
    let any = false;
    for (let p = 0; p < owner.length; p++) {
      const on = owner[p] === index ? 1 : 0;
      mask[p] = on;
      any ||= on === 1;
    }
    if (!any) continue;
    const cls = options.ontology.classes[index];
    objects.push({
      id: cls ? `${options.itemId}#class-${cls.id}` : `${options.itemId}#label-${names[index]}`,
      classId: cls ? cls.id : null,
      className: names[index]!,
      kind: "mask",
      mask: { counts: encodeRowMajor(mask, size.width, size.height) },
    });
  }
  return {
    ok: true,
    annotation: { schema: "canonical-annotation/v1", itemId: options.itemId, image: size, objects, classifications: [], provenance: options.provenance },
    notes,
  };
}

/**
 * A class-id mask (one byte per pixel, row-major; values outside the ontology are left out, e.g.
 * 255 for "unlabelled") as Label Studio result items: one brush per class present, drawn with
 * alpha 255. Used for predictions (pre-labels).
 */
export function classMaskToLabelStudioResult(
  classMask: Uint8Array, size: { width: number; height: number }, ontology: Ontology, names: { control?: string; image?: string } = {},
): LsResultItem[] {
  if (classMask.length !== size.width * size.height) throw new Error(`class mask has ${classMask.length} pixels, expected ${size.width}×${size.height}`);
  const items: LsResultItem[] = [];
  const on = new Uint8Array(classMask.length);
  for (const cls of ontology.classes) {
    let any = false;
    for (let p = 0; p < classMask.length; p++) {
      on[p] = classMask[p] === cls.id ? 1 : 0;
      any ||= on[p] === 1;
    }
    if (!any) continue;
    items.push({
      id: `c${cls.id}`,
      type: "brushlabels",
      from_name: names.control ?? LS_CONTROL_NAME,
      to_name: names.image ?? LS_IMAGE_NAME,
      original_width: size.width,
      original_height: size.height,
      image_rotation: 0,
      value: { format: "rle", rle: maskToBrushRle(on), brushlabels: [cls.name] },
    });
  }
  return items;
}
