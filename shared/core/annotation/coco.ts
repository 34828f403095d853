import * as z from "zod";
import { PermanentError } from "../../errors.ts";
import {
  CanonicalAnnotationSchema,
  ClassificationSchema,
  ProvenanceSchema,
  type Box,
  type CanonicalAnnotation,
  type CanonicalObject,
  type MaskRle,
  type Provenance,
} from "./canonical.ts";
import { classById, classIdOf, type Ontology } from "./ontology.ts";
import { maskBounds, polygonBounds, polygonRingsArea } from "./rasterise.ts";
import { cocoRleFromRowMajor, maskArea, rowMajorFromCocoRle, type CocoRle } from "./rle.ts";

/**
 * COCO export/import. Exports keep every image, also those without objects (negatives are
 * training signal; dropping them is the classic exporter bug), and carry what COCO cannot say in
 * `mlops_*` fields and `attributes`, so our own files come back as exactly the same canonical
 * annotations. Plain COCO files from other tools import too.
 */

export interface CocoImage {
  id: number;
  file_name: string;
  width: number;
  height: number;
  mlops_item_id?: string;
  mlops_provenance?: Provenance;
  mlops_classifications?: CanonicalAnnotation["classifications"];
}

export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  area: number;
  iscrowd: 0 | 1;
  /** Polygon rings, or RLE (column-major, compressed string); absent for plain boxes. */
  segmentation?: number[][] | CocoRle;
  mlops_object_id?: string;
  /** The class name as the backend sent it (may differ in case from the category name). */
  mlops_class_name?: string;
  /** Only present when the canonical object said `iscrowd` explicitly. */
  mlops_iscrowd?: boolean;
  attributes?: Record<string, unknown>;
}

export interface CocoCategory {
  id: number;
  name: string;
  supercategory: string;
}

export interface CocoDataset {
  info: { description: string; version: string };
  images: CocoImage[];
  annotations: CocoAnnotation[];
  categories: CocoCategory[];
}

/** Category ids start at 1 (0 is reserved by many COCO tools for background). */
export function categoryIdOf(classId: number): number {
  return classId + 1;
}

export function toCoco(
  annotations: readonly CanonicalAnnotation[],
  ontology: Ontology,
  images: readonly { itemId: string; fileName: string }[],
): CocoDataset {
  const fileNames = new Map(images.map((image) => [image.itemId, image.fileName]));
  const annotated = new Set(annotations.map((a) => a.itemId));
  if (annotated.size !== annotations.length) throw new PermanentError("coco_export", "toCoco was given two annotations for the same item");
  const unlabelled = images.filter((image) => !annotated.has(image.itemId));
  if (unlabelled.length > 0) {
    // A listed image without an annotation has no size; an empty annotation is how a negative is passed.
    throw new PermanentError("coco_export", `toCoco has no annotation for image(s) ${unlabelled.map((i) => `"${i.itemId}"`).join(", ")}; pass an annotation with no objects for a negative`);
  }
  const dataset: CocoDataset = {
    info: { description: "mlops-loop canonical annotations", version: "1" },
    images: [],
    annotations: [],
    categories: ontology.classes.map((cls) => ({ id: categoryIdOf(cls.id), name: cls.name, supercategory: "" })),
  };
  annotations.forEach((annotation, index) => {
    const fileName = fileNames.get(annotation.itemId);
    if (fileName === undefined) throw new PermanentError("coco_export", `toCoco has no file name for item "${annotation.itemId}"`);
    const imageId = index + 1;
    dataset.images.push({
      id: imageId,
      file_name: fileName,
      width: annotation.image.width,
      height: annotation.image.height,
      mlops_item_id: annotation.itemId,
      mlops_provenance: annotation.provenance,
      mlops_classifications: annotation.classifications,
    });
    for (const object of annotation.objects) {
      dataset.annotations.push(cocoAnnotationOf(object, annotation, ontology, imageId, dataset.annotations.length + 1));
    }
  });
  return dataset;
}

function cocoAnnotationOf(object: CanonicalObject, annotation: CanonicalAnnotation, ontology: Ontology, imageId: number, id: number): CocoAnnotation {
  const cls = classById(ontology, object.classId);
  if (!cls) {
    throw new PermanentError("coco_export", `object "${object.id}" of item "${annotation.itemId}" has class "${object.className}", which is not in the ontology`);
  }
  const { width, height } = annotation.image;
  const geometry = ((): Pick<CocoAnnotation, "bbox" | "area" | "segmentation"> => {
    switch (object.kind) {
      case "box":
        return { bbox: [object.box.x, object.box.y, object.box.w, object.box.h], area: object.box.w * object.box.h };
      case "polygon":
        return { bbox: polygonBounds(object.polygon), area: polygonRingsArea(object.polygon), segmentation: object.polygon.map((ring) => [...ring]) };
      case "mask":
        return { bbox: maskBounds(object.mask.counts, width), area: maskArea(object.mask.counts), segmentation: cocoRleFromRowMajor(object.mask.counts, width, height) };
    }
  })();
  const out: CocoAnnotation = {
    id,
    image_id: imageId,
    category_id: categoryIdOf(cls.id),
    ...geometry,
    iscrowd: object.iscrowd ? 1 : 0,
    mlops_object_id: object.id,
    mlops_class_name: object.className,
  };
  if (object.iscrowd !== undefined) out.mlops_iscrowd = object.iscrowd;
  if (object.attributes !== undefined) out.attributes = object.attributes;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Import

const RleSchema = z.object({
  size: z.array(z.number().int().positive()).length(2),
  counts: z.union([z.string(), z.array(z.number().int().nonnegative())]),
});

const CocoInputSchema = z.object({
  images: z.array(
    z.object({
      id: z.number().int(),
      file_name: z.string().min(1),
      width: z.number().int().positive(),
      height: z.number().int().positive(),
      mlops_item_id: z.string().min(1).optional(),
      mlops_provenance: ProvenanceSchema.optional(),
      mlops_classifications: z.array(ClassificationSchema).optional(),
    }),
  ),
  annotations: z
    .array(
      z.object({
        id: z.union([z.number().int(), z.string().min(1)]),
        image_id: z.number().int(),
        category_id: z.number().int(),
        bbox: z.array(z.number()).length(4).optional(),
        iscrowd: z.union([z.literal(0), z.literal(1), z.boolean()]).optional(),
        segmentation: z.union([z.array(z.array(z.number())), RleSchema]).optional(),
        mlops_object_id: z.string().min(1).optional(),
        mlops_class_name: z.string().optional(),
        mlops_iscrowd: z.boolean().optional(),
        attributes: z.record(z.string(), z.unknown()).optional(),
      }),
    )
    .default([]),
  categories: z.array(z.object({ id: z.number().int(), name: z.string() })).default([]),
});

/** Provenance for plain COCO files, which carry none. */
export interface CocoImportOptions {
  backend?: string;
  /** Defaults to `coco:<image id>`. */
  labelId?: string;
  /** ISO timestamp; defaults to the Unix epoch, i.e. "unknown". */
  editedAt?: string;
  annotator?: string | null;
}

export function fromCoco(dataset: unknown, ontology: Ontology, options: CocoImportOptions = {}): CanonicalAnnotation[] {
  const parsed = CocoInputSchema.safeParse(dataset);
  if (!parsed.success) throw new PermanentError("invalid_coco", `not a COCO dataset: ${z.prettifyError(parsed.error)}`);
  const { images, annotations, categories } = parsed.data;
  const categoryNames = new Map(categories.map((c) => [c.id, c.name]));
  const objectsByImage = new Map<number, CanonicalObject[]>(images.map((image) => [image.id, []]));
  const sizeByImage = new Map(images.map((image) => [image.id, image]));
  if (objectsByImage.size !== images.length) throw new PermanentError("invalid_coco", "COCO file has two images with the same id");

  for (const ann of annotations) {
    const objects = objectsByImage.get(ann.image_id);
    const image = sizeByImage.get(ann.image_id);
    if (!objects || !image) throw new PermanentError("invalid_coco", `COCO annotation ${ann.id} refers to image ${ann.image_id}, which the file does not list`);
    const categoryName = categoryNames.get(ann.category_id);
    const base = {
      id: ann.mlops_object_id ?? String(ann.id),
      classId: categoryName === undefined ? null : classIdOf(ontology, { name: categoryName }),
      className: ann.mlops_class_name ?? categoryName ?? `category ${ann.category_id}`,
    };
    const extras: Pick<CanonicalObject, "attributes" | "iscrowd"> = {};
    if (ann.attributes !== undefined) extras.attributes = ann.attributes;
    // Our files say explicitly whether iscrowd was set; plain files only mark crowd regions.
    const iscrowd = ann.mlops_object_id !== undefined ? ann.mlops_iscrowd : ann.iscrowd === 1 || ann.iscrowd === true ? true : undefined;
    if (iscrowd !== undefined) extras.iscrowd = iscrowd;
    objects.push({ ...base, ...geometryOf(ann), ...extras });
  }

  return images.map((image) => {
    const provenance = image.mlops_provenance ?? {
      backend: options.backend ?? "coco",
      labelId: options.labelId ?? `coco:${image.id}`,
      annotator: options.annotator ?? null,
      editedAt: options.editedAt ?? "1970-01-01T00:00:00.000Z",
    };
    const candidate = {
      schema: "canonical-annotation/v1" as const,
      itemId: image.mlops_item_id ?? image.file_name,
      image: { width: image.width, height: image.height },
      objects: objectsByImage.get(image.id) ?? [],
      classifications: image.mlops_classifications ?? [],
      provenance,
    };
    const checked = CanonicalAnnotationSchema.safeParse(candidate);
    if (!checked.success) {
      throw new PermanentError("invalid_coco", `COCO image "${image.file_name}" does not make a valid annotation: ${z.prettifyError(checked.error)}`);
    }
    return checked.data;
  });
}

type CocoInputAnnotation = z.infer<typeof CocoInputSchema>["annotations"][number];

type Geometry = { kind: "box"; box: Box } | { kind: "polygon"; polygon: number[][] } | { kind: "mask"; mask: MaskRle };

function geometryOf(ann: CocoInputAnnotation): Geometry {
  const segmentation = ann.segmentation;
  if (segmentation !== undefined && !Array.isArray(segmentation)) {
    // Transposed with the RLE's own size. A mask of another size than the image is carried through
    // as-is: quality checks compare sizes and reject it with a clear reason instead of the
    // importer guessing a crop or a scale.
    const decoded = rowMajorFromCocoRle({ size: segmentation.size, counts: segmentation.counts });
    return { kind: "mask", mask: { counts: decoded.counts } };
  }
  if (segmentation !== undefined && segmentation.length > 0) {
    const bad = segmentation.find((ring) => ring.length < 6 || ring.length % 2 !== 0);
    if (bad) throw new PermanentError("invalid_coco", `COCO annotation ${ann.id} has a polygon ring with ${bad.length} coordinates (needs pairs, at least 3 points)`);
    return { kind: "polygon", polygon: segmentation.map((ring) => [...ring]) };
  }
  if (!ann.bbox) throw new PermanentError("invalid_coco", `COCO annotation ${ann.id} has neither segmentation nor bbox`);
  const [x, y, w, h] = ann.bbox as [number, number, number, number];
  return { kind: "box", box: { x, y, w, h } };
}
