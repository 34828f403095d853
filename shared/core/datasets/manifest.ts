import { z } from "zod";
import { ProvenanceSchema } from "../annotation/canonical.ts";

/**
 * An immutable dataset version. Its id is the SHA-256 of this document in canonical JSON
 * (`canonicalJson`), so the same samples with the same labels always make the same version.
 * Stored at `gs://<datasets>/<line>/<id>/manifest.json` next to its exports.
 */
const ContentRef = z.object({ uri: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) });
const ImageRef = ContentRef.extend({ width: z.number().int().positive(), height: z.number().int().positive() });

export const ManifestItemSchema = z.object({
  itemId: z.string(),
  split: z.enum(["train", "eval"]),
  /** `rgb` + `nir` for products, `image` for plain images. */
  images: z.object({ rgb: ImageRef.optional(), nir: ImageRef.optional(), image: ImageRef.optional() }),
  /** 8-bit PNG, 255 where the source had nodata. Absent when the image had none. */
  nodata: ContentRef.nullable(),
  /** The canonical annotation JSON. */
  label: ContentRef,
  provenance: ProvenanceSchema,
});

export const DatasetManifestSchema = z.object({
  schema: z.literal("dataset-manifest/v1"),
  line: z.string(),
  seq: z.number().int().positive(),
  parentId: z.string().nullable(),
  task: z.enum(["segmentation", "detection", "classification"]),
  classes: z.array(z.string()).min(1),
  evalSplitPercent: z.number().int(),
  items: z.array(ManifestItemSchema),
});

export type ManifestItem = z.infer<typeof ManifestItemSchema>;
export type DatasetManifest = z.infer<typeof DatasetManifestSchema>;

/** Where a version's files live, relative to `gs://<datasets bucket>/`. */
export function versionPrefix(line: string, versionId: string): string {
  return `${line}/${versionId}/`;
}
