import * as z from "zod";
import { ProvenanceSchema } from "../annotation/canonical.ts";

/**
 * An immutable dataset version. Its id is the SHA-256 of this document in canonical JSON
 * (`canonicalJson`), so the same samples with the same labels always make the same version.
 * Stored at `gs://<datasets>/<line>/<id>/manifest.json`.
 *
 * Three schemas are read (a version keeps the one it was frozen with: its id is its content):
 * - `dataset-manifest/v1`: versions frozen before per-item exports; their COCO/YOLO/mask exports
 *   sit under `<line>/<id>/exports/`.
 * - `dataset-manifest/v2`: one document holding every item, each with its content-addressed
 *   exports (YOLO txt, mask PNG), and the mask value that marks nodata (`maskIgnoreValue`, the
 *   value the evaluator ignores). At a million items that is a ~1 GB file every freeze rewrote.
 * - `dataset-manifest/v3`, written now: the same header and items, the items held in
 *   content-addressed pages (manifest-pages.ts) that the document lists with their SHA-256, so the
 *   document still pins every byte of the version (a Merkle tree of depth two) while a freeze
 *   writes only the pages that changed. `loadManifest` gives every schema's items as one list.
 */
const ContentRef = z.object({ uri: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) });
const ImageRef = ContentRef.extend({ width: z.number().int().positive(), height: z.number().int().positive() });
export type ContentRef = z.infer<typeof ContentRef>;

const itemFields = {
  itemId: z.string(),
  split: z.enum(["train", "eval"]),
  /** `rgb` + `nir` for products, `image` for plain images. */
  images: z.object({ rgb: ImageRef.optional(), nir: ImageRef.optional(), image: ImageRef.optional() }),
  /** 8-bit PNG, 255 where the source had nodata. Absent when the image had none. */
  nodata: ContentRef.nullable(),
  /** The canonical annotation JSON. */
  label: ContentRef,
  provenance: ProvenanceSchema,
};

export const ManifestItemV1Schema = z.object(itemFields);

/**
 * Exports of one sample, content-addressed (`gs://<datasets>/exports/{yolo,masks}/<sha256>.…`) and
 * shared by every version that holds the sample with the same label, so a freeze writes exports
 * for its new samples only. `mask` (segmentation only): one class id per pixel, `maskIgnoreValue`
 * where the source had nodata.
 */
export const ItemExportsSchema = z.object({ yolo: ContentRef.optional(), mask: ContentRef.optional() });
export type ItemExports = z.infer<typeof ItemExportsSchema>;

export const ManifestItemV2Schema = z.object({ ...itemFields, exports: ItemExportsSchema });

const headerFields = {
  line: z.string(),
  seq: z.number().int().positive(),
  parentId: z.string().nullable(),
  task: z.enum(["segmentation", "detection", "classification"]),
  classes: z.array(z.string()).min(1),
  evalSplitPercent: z.number().int(),
};

export const DatasetManifestV1Schema = z.object({
  schema: z.literal("dataset-manifest/v1"),
  ...headerFields,
  items: z.array(ManifestItemV1Schema),
});

/** The mask value for "no data here": what `shared/core/evaluation/segmentation.ts` ignores. */
export const MASK_IGNORE_VALUE = 255;

export const DatasetManifestV2Schema = z.object({
  schema: z.literal("dataset-manifest/v2"),
  ...headerFields,
  maskIgnoreValue: z.number().int().min(0).max(255),
  items: z.array(ManifestItemV2Schema),
});

/**
 * One page of a v3 manifest as the document lists it. A page holds the entries one freeze wrote
 * (`seq`: new members and members whose label changed), in item-id byte order, at most
 * `MANIFEST_PAGE_ENTRIES` of them; a later freeze that replaces an entry rewrites its page without
 * it. `first`/`last` bound the ids so a freeze finds a member's page without reading the others.
 */
export const ManifestPageRefSchema = ContentRef.extend({
  seq: z.number().int().positive(),
  count: z.number().int().positive(),
  first: z.string(),
  last: z.string(),
});
export type ManifestPageRef = z.infer<typeof ManifestPageRefSchema>;

export const DatasetManifestV3Schema = z.object({
  schema: z.literal("dataset-manifest/v3"),
  ...headerFields,
  maskIgnoreValue: z.number().int().min(0).max(255),
  itemCount: z.number().int().nonnegative(),
  pages: z.array(ManifestPageRefSchema),
});

/** A stored manifest document, as read from the store (v3 lists its pages instead of items). */
export const StoredManifestSchema = z.discriminatedUnion("schema", [DatasetManifestV1Schema, DatasetManifestV2Schema, DatasetManifestV3Schema]);
export type StoredManifest = z.infer<typeof StoredManifestSchema>;

/** Any manifest a reader may meet (old versions stay v1 forever: their id is their content). */
export const DatasetManifestSchema = z.discriminatedUnion("schema", [DatasetManifestV1Schema, DatasetManifestV2Schema]);

export type ManifestItemV1 = z.infer<typeof ManifestItemV1Schema>;
export type ManifestItemV2 = z.infer<typeof ManifestItemV2Schema>;
export type ManifestItem = ManifestItemV1 | ManifestItemV2;
export type DatasetManifestV1 = z.infer<typeof DatasetManifestV1Schema>;
export type DatasetManifestV2 = z.infer<typeof DatasetManifestV2Schema>;
export type DatasetManifestV3 = z.infer<typeof DatasetManifestV3Schema>;
/** A v3 manifest with its pages read: the header, the page list, and every item in page order. */
export type LoadedManifestV3 = DatasetManifestV3 & { items: ManifestItemV2[] };
/** A manifest with its items, whatever its schema: what readers work on (`loadManifest`). */
export type DatasetManifest = DatasetManifestV1 | DatasetManifestV2 | LoadedManifestV3;
export type ManifestHeader = Omit<DatasetManifestV3, "pages" | "itemCount">;

/** Where a version's files live, relative to `gs://<datasets bucket>/`. */
export function versionPrefix(line: string, versionId: string): string {
  return `${line}/${versionId}/`;
}

/** The item's exports when the manifest has them (v2). */
export function itemExports(item: ManifestItem): ItemExports | null {
  return "exports" in item ? item.exports : null;
}
