import * as z from "zod";
import { PermanentError } from "../../errors.ts";

/**
 * Input shapes of the COCO detection evaluator: the standard COCO ground-truth file and the
 * standard detection results list (what `COCO.loadRes` takes), plus the parameters of
 * pycocotools' `Params.setDetParams`.
 */

const coordinate = z.number({ error: "must be a finite number" });
const extent = z.number({ error: "must be a finite number" }).nonnegative({ error: "must be ≥ 0" });
const integerId = z.number({ error: "must be an integer id" }).int({ error: "must be an integer id" });

/** `[x, y, width, height]` in pixels. */
export const CocoBboxSchema = z.tuple([coordinate, coordinate, extent, extent], {
  error: "must be [x, y, width, height] (four numbers)",
});

const crowdFlag = z.union([z.literal(0), z.literal(1), z.boolean()], { error: "must be 0, 1, true or false" });

export const CocoGtAnnotationSchema = z.looseObject({
  id: integerId,
  image_id: integerId,
  category_id: integerId,
  bbox: CocoBboxSchema,
  /**
   * The object's (segment) area, used for the small/medium/large ranges. pycocotools raises a
   * KeyError when it is missing; we fall back to the box area w·h instead.
   */
  area: extent.optional(),
  iscrowd: crowdFlag.optional(),
  /** Accepted and disregarded: COCOeval's `_prepare` overwrites it (see `coco-prepare.ts`). */
  ignore: z.unknown().optional(),
});

export const CocoGroundTruthSchema = z.looseObject({
  images: z.array(z.looseObject({ id: integerId }), { error: "must be a list of images" }),
  annotations: z.array(CocoGtAnnotationSchema, { error: "must be a list of annotations" }),
  categories: z.array(z.looseObject({ id: integerId, name: z.string({ error: "must be a string" }) }), {
    error: "must be a list of categories",
  }),
});

export const CocoDetectionResultSchema = z.looseObject({
  image_id: integerId,
  category_id: integerId,
  bbox: CocoBboxSchema,
  score: z.number({ error: "must be a finite number" }),
});

export const CocoDetectionResultsSchema = z.array(CocoDetectionResultSchema, {
  error: "must be a JSON list of detections",
});

export type CocoBbox = z.infer<typeof CocoBboxSchema>;
export type CocoGtAnnotation = z.input<typeof CocoGtAnnotationSchema>;
export type CocoGroundTruth = z.input<typeof CocoGroundTruthSchema>;
export type CocoDetectionResult = z.input<typeof CocoDetectionResultSchema>;

/** The twelve numbers of `COCOeval.summarize()` for bbox, in its order; −1 where undefined. */
export interface CocoStats {
  AP: number;
  AP50: number;
  AP75: number;
  APs: number;
  APm: number;
  APl: number;
  AR1: number;
  AR10: number;
  AR100: number;
  ARs: number;
  ARm: number;
  ARl: number;
}

export const COCO_STAT_KEYS = [
  "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl",
] as const satisfies readonly (keyof CocoStats)[];

export interface CocoPerClass {
  categoryId: number;
  name: string;
  /** Means over the cells of this category (area all, largest maxDets); −1 without GT. */
  AP: number;
  AP50: number;
  AP75: number;
  AR100: number;
}

export interface CocoEvaluateOptions {
  /** Per-category evaluation (default true); false pools all categories (proposal scoring). */
  useCats?: boolean;
  /** Detections kept per image (and per category); sorted ascending like COCOeval. Default [1, 10, 100]. */
  maxDets?: [number, number, number];
  iouType?: "bbox";
}

export interface CocoEvaluation {
  stats: CocoStats;
  /** One entry per ground-truth category (sorted by id); empty when `useCats` is false. */
  perClass: CocoPerClass[];
  /** Entries of COCOeval's `evalImgs` that are not None: non-empty (image, category, area range) triples. */
  evalImgsCount: number;
  /** Input oddities pycocotools passes over silently (e.g. annotations on unknown images). */
  warnings: string[];
}

/**
 * `np.linspace(start, stop, num)` as NumPy computes it: `i * step + start` with
 * `step = (stop - start) / (num - 1)`, and the last element set to `stop` exactly. Matching the
 * floating values matters because `summarize` selects IoU .5 and .75 with `==`.
 */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  // NumPy multiplies by delta instead when num = 1 (no step): the single value is `start`.
  const step = num > 1 ? (stop - start) / (num - 1) : 0;
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  if (num > 1) out[num - 1] = stop;
  return out;
}

/** `Params.setDetParams`: T = 10 IoU thresholds, R = 101 recall thresholds, A = 4 area ranges. */
export const IOU_THRESHOLDS: Float64Array = linspace(0.5, 0.95, 10);
export const RECALL_THRESHOLDS: Float64Array = linspace(0, 1, 101);
/** [lo, hi] inclusive at both ends, in the order all, small, medium, large. */
export const AREA_RANGES: readonly (readonly [number, number])[] = [
  [0, 1e5 ** 2],
  [0, 32 ** 2],
  [32 ** 2, 96 ** 2],
  [96 ** 2, 1e5 ** 2],
];
export const AREA_LABELS = ["all", "small", "medium", "large"] as const;
export type AreaLabel = (typeof AREA_LABELS)[number];
export const DEFAULT_MAX_DETS: readonly [number, number, number] = [1, 10, 100];

/** Turns zod issues into one readable line per problem, e.g. `detections[3].bbox[2]: must be ≥ 0`. */
export function describeIssues(label: string, error: z.ZodError, limit = 5): string {
  const lines = error.issues.slice(0, limit).map((issue) => {
    let path = label;
    for (const part of issue.path) path += typeof part === "number" ? `[${part}]` : `.${String(part)}`;
    return `${path}: ${issue.message}`;
  });
  const more = error.issues.length - limit;
  return more > 0 ? `${lines.join("; ")}; … and ${more} more` : lines.join("; ");
}

/**
 * True when `input` is something `CocoGroundTruthSchema` accepts, checked without allocating (the
 * detections' fast path below, for the same reason: zod copies every image and annotation).
 * Anything it rejects goes through zod, the authority on validity and error messages.
 */
function isWellFormedGroundTruth(input: unknown): input is z.output<typeof CocoGroundTruthSchema> {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return false;
  const { images, annotations, categories } = input as Record<string, unknown>;
  if (!Array.isArray(images) || !Array.isArray(annotations) || !Array.isArray(categories)) return false;
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
  for (const image of images) if (!isObject(image) || !Number.isSafeInteger(image.id)) return false;
  for (const category of categories) if (!isObject(category) || !Number.isSafeInteger(category.id) || typeof category.name !== "string") return false;
  for (const a of annotations) {
    if (!isObject(a) || !Number.isSafeInteger(a.id) || !Number.isSafeInteger(a.image_id) || !Number.isSafeInteger(a.category_id)) return false;
    const { bbox, area, iscrowd } = a;
    if (!Array.isArray(bbox) || bbox.length !== 4 || !finite(bbox[0]) || !finite(bbox[1]) || !finite(bbox[2]) || !finite(bbox[3]) || bbox[2] < 0 || bbox[3] < 0) return false;
    if (area !== undefined && (!finite(area) || area < 0)) return false;
    if (iscrowd !== undefined && iscrowd !== 0 && iscrowd !== 1 && typeof iscrowd !== "boolean") return false;
  }
  return true;
}

export function parseCocoGroundTruth(input: unknown): z.output<typeof CocoGroundTruthSchema> {
  if (isWellFormedGroundTruth(input)) return input;
  const parsed = CocoGroundTruthSchema.safeParse(input);
  if (!parsed.success) {
    throw new PermanentError("invalid_coco_ground_truth", `invalid COCO ground truth: ${describeIssues("gt", parsed.error)}`);
  }
  return parsed.data;
}

/**
 * True when `input` is exactly what `CocoDetectionResultsSchema` accepts, checked without
 * allocating. zod builds a fresh object and array per detection: for a 500,000-detection file that
 * is a large share of the evaluation time, most of it garbage collection. Anything this check
 * rejects goes through zod, which stays the authority on what is valid and what the error says.
 */
function isWellFormedDetectionList(input: unknown): input is CocoDetectionResult[] {
  if (!Array.isArray(input)) return false;
  for (let i = 0; i < input.length; i++) {
    const det: unknown = input[i];
    if (typeof det !== "object" || det === null || Array.isArray(det)) return false;
    const { image_id: imageId, category_id: categoryId, bbox, score } = det as Record<string, unknown>;
    if (!Number.isSafeInteger(imageId) || !Number.isSafeInteger(categoryId)) return false;
    if (typeof score !== "number" || !Number.isFinite(score)) return false;
    if (!Array.isArray(bbox) || bbox.length !== 4) return false;
    const x: unknown = bbox[0], y: unknown = bbox[1], w: unknown = bbox[2], h: unknown = bbox[3];
    if (typeof x !== "number" || !Number.isFinite(x) || typeof y !== "number" || !Number.isFinite(y)) return false;
    if (typeof w !== "number" || !Number.isFinite(w) || w < 0 || typeof h !== "number" || !Number.isFinite(h) || h < 0) return false;
  }
  return true;
}

export function parseCocoDetections(input: unknown): readonly CocoDetectionResult[] {
  if (isWellFormedDetectionList(input)) return input;
  const parsed = CocoDetectionResultsSchema.safeParse(input);
  if (!parsed.success) {
    throw new PermanentError("invalid_coco_results", `invalid COCO detection results: ${describeIssues("detections", parsed.error)}`);
  }
  return parsed.data;
}
