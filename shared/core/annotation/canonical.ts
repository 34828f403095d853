import * as z from "zod";

/**
 * The canonical annotation: one JSON document per sample, whatever the backend. Coordinates are in
 * pixels of the normalised image; class ids index the project ontology (`config.annotation.ontology`).
 *
 * Masks are run-length encoded row-major over the whole image (index = row * width + col),
 * alternating runs of 0 and 1 starting with a 0-run (0 when the first pixel is set), summing to
 * width × height. This is Encord's order; COCO's column-major RLE is converted at the edges.
 */
export const BoxSchema = z.object({
  x: z.number(),
  y: z.number(),
  w: z.number(),
  h: z.number(),
});

export const MaskRleSchema = z.object({
  counts: z.array(z.number().int().nonnegative()),
});

const objectBase = {
  /** Stable id of the instance (Encord objectHash, COCO annotation id). */
  id: z.string().min(1),
  /** Index in the ontology, or null when the label names a class the ontology does not have. */
  classId: z.number().int().nonnegative().nullable(),
  /** The class name as the backend sent it (kept for error messages and unknown classes). */
  className: z.string(),
  attributes: z.record(z.string(), z.unknown()).optional(),
  /** COCO crowd region. */
  iscrowd: z.boolean().optional(),
};

export const CanonicalObjectSchema = z.discriminatedUnion("kind", [
  z.object({ ...objectBase, kind: z.literal("box"), box: BoxSchema }),
  /** Rings of flat [x0, y0, x1, y1, …] pixel coordinates (COCO / Encord `polygons` layout). */
  z.object({ ...objectBase, kind: z.literal("polygon"), polygon: z.array(z.array(z.number()).min(6)).min(1) }),
  z.object({ ...objectBase, kind: z.literal("mask"), mask: MaskRleSchema }),
]);

export const ClassificationSchema = z.object({
  classId: z.number().int().nonnegative().nullable(),
  className: z.string(),
  attributes: z.record(z.string(), z.unknown()).optional(),
});

export const ProvenanceSchema = z.object({
  backend: z.string().min(1),
  labelId: z.string().min(1),
  annotator: z.string().nullable(),
  editedAt: z.iso.datetime({ offset: true }),
});

export const CanonicalAnnotationSchema = z.object({
  schema: z.literal("canonical-annotation/v1"),
  itemId: z.string().min(1),
  image: z.object({ width: z.number().int().positive(), height: z.number().int().positive() }),
  objects: z.array(CanonicalObjectSchema),
  classifications: z.array(ClassificationSchema).default([]),
  provenance: ProvenanceSchema,
});

export type Box = z.infer<typeof BoxSchema>;
export type MaskRle = z.infer<typeof MaskRleSchema>;
export type CanonicalObject = z.infer<typeof CanonicalObjectSchema>;
export type Classification = z.infer<typeof ClassificationSchema>;
export type Provenance = z.infer<typeof ProvenanceSchema>;
export type CanonicalAnnotation = z.infer<typeof CanonicalAnnotationSchema>;
