import { PermanentError } from "../../errors.ts";
import { DetectionColumns } from "./coco-results-text.ts";
import { parseCocoDetections, parseCocoGroundTruth, type CocoDetectionResult } from "./coco-types.ts";

/**
 * `COCO.createIndex`, `COCO.loadRes` (bbox) and `COCOeval._prepare` flattened into typed arrays.
 * Only annotations COCOeval would evaluate survive: ground truth on a listed image with a listed
 * category, detections with a listed category.
 */
export interface PreparedCoco {
  /** Sorted unique image ids (`sorted(getImgIds())`, then `np.unique`). */
  imgIds: number[];
  /** Sorted unique category ids with their names (the last entry wins, as in `createIndex`). */
  catIds: number[];
  catNames: string[];
  gt: PreparedBoxes & {
    /** `iscrowd`: IoU over the detection's area only, matchable repeatedly, always ignored. */
    crowd: Uint8Array;
    /** 1 where the annotation id is 0: COCOeval stores the matched GT id and reads 0 as "no match". */
    idIsZero: Uint8Array;
  };
  dt: PreparedBoxes & { score: Float64Array };
  warnings: string[];
}

export interface PreparedBoxes {
  count: number;
  /** Index into `imgIds` / `catIds`. */
  img: Int32Array;
  cat: Int32Array;
  /** x, y, w, h per box. */
  box: Float64Array;
  /** GT: the annotation's `area`; detections: w·h (what `loadRes` sets). */
  area: Float64Array;
}

/** Sorted unique ids and a lookup id → position (−1 when absent). */
interface IdIndex {
  sorted: number[];
  positionOf(id: number): number;
}

function indexIds(ids: readonly number[]): IdIndex {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const largest = sorted.length > 0 ? sorted[sorted.length - 1]! : -1;
  // Dense table when ids are small non-negative integers (the COCO norm): cheaper than a Map for
  // the hundreds of thousands of lookups a large results file needs.
  if (sorted.length > 0 && sorted[0]! >= 0 && largest < Math.max(1 << 16, sorted.length * 8)) {
    const table = new Int32Array(largest + 1).fill(-1);
    sorted.forEach((id, i) => (table[id] = i));
    return { sorted, positionOf: (id) => (id >= 0 && id <= largest ? table[id]! : -1) };
  }
  const map = new Map(sorted.map((id, i) => [id, i]));
  return { sorted, positionOf: (id) => map.get(id) ?? -1 };
}

function allocate(count: number): PreparedBoxes {
  return {
    count,
    img: new Int32Array(count),
    cat: new Int32Array(count),
    box: new Float64Array(count * 4),
    area: new Float64Array(count),
  };
}

export function prepareCoco(gtInput: unknown, dtInput: unknown): PreparedCoco {
  const gtFile = parseCocoGroundTruth(gtInput);
  // Columns come from readDetectionColumns, which accepts only what the schema accepts.
  const results = dtInput instanceof DetectionColumns ? dtInput : columnsOf(parseCocoDetections(dtInput));
  const warnings: string[] = [];

  const images = indexIds(gtFile.images.map((image) => image.id));
  const categories = indexIds(gtFile.categories.map((category) => category.id));
  const nameById = new Map(gtFile.categories.map((category) => [category.id, category.name]));

  // createIndex keeps annotations in a dict by id; a repeated id makes loadAnns return the last
  // one twice, silently. That is a broken file, not a semantic to reproduce.
  const seenIds = new Set<number>();
  gtFile.annotations.forEach((ann, i) => {
    if (seenIds.has(ann.id)) {
      throw new PermanentError("invalid_coco_ground_truth", `invalid COCO ground truth: gt.annotations[${i}].id ${ann.id} is used twice`);
    }
    seenIds.add(ann.id);
  });

  let onUnknownImage = 0;
  let onUnknownCategory = 0;
  const gtKept = gtFile.annotations.filter((ann) => {
    if (images.positionOf(ann.image_id) < 0) onUnknownImage++;
    else if (categories.positionOf(ann.category_id) < 0) onUnknownCategory++;
    else return true;
    return false;
  });
  if (onUnknownImage > 0) {
    warnings.push(`${onUnknownImage} ground-truth annotation(s) refer to images missing from "images" and are not evaluated`);
  }
  if (onUnknownCategory > 0) {
    warnings.push(`${onUnknownCategory} ground-truth annotation(s) have a category_id missing from "categories" and are not evaluated`);
  }

  const gt = {
    ...allocate(gtKept.length),
    crowd: new Uint8Array(gtKept.length),
    idIsZero: new Uint8Array(gtKept.length),
  };
  gtKept.forEach((ann, i) => {
    const [x, y, w, h] = ann.bbox;
    gt.img[i] = images.positionOf(ann.image_id);
    gt.cat[i] = categories.positionOf(ann.category_id);
    gt.box[i * 4] = x;
    gt.box[i * 4 + 1] = y;
    gt.box[i * 4 + 2] = w;
    gt.box[i * 4 + 3] = h;
    gt.area[i] = ann.area ?? w * h;
    // _prepare runs `gt['ignore'] = gt['ignore'] if 'ignore' in gt else 0` and then, unconditionally,
    // `gt['ignore'] = 'iscrowd' in gt and gt['iscrowd']`: the second line overwrites the first, so a
    // user `ignore` flag never counts. With `iscrowd` present, ignore == iscrowd; without it, ignore
    // is False (and pycocotools would then crash on `int(o['iscrowd'])` in computeIoU, so a missing
    // key can only mean "not a crowd"). Hence ignore == crowd in every case that runs.
    gt.crowd[i] = ann.iscrowd === 1 || ann.iscrowd === true ? 1 : 0;
    gt.idIsZero[i] = ann.id === 0 ? 1 : 0;
  });
  if (gt.idIsZero.includes(1)) {
    warnings.push(
      "a ground-truth annotation has id 0: COCOeval records matches by annotation id and reads 0 as unmatched, " +
        "so a detection matching it counts as a false positive (renumber annotation ids from 1)",
    );
  }

  // Two passes over the results: count what is evaluated, then fill typed arrays in input order.
  let dtCount = 0;
  for (let i = 0; i < results.count; i++) {
    // loadRes asserts that every result refers to an image of the ground truth.
    if (images.positionOf(results.imageId[i]!) < 0) {
      throw new PermanentError(
        "invalid_coco_results",
        `invalid COCO detection results: detections[${i}].image_id ${results.imageId[i]} is not an image of the ground truth`,
      );
    }
    if (categories.positionOf(results.categoryId[i]!) >= 0) dtCount++;
  }
  if (dtCount < results.count) {
    warnings.push(`${results.count - dtCount} detection(s) have a category_id missing from "categories" and are not evaluated`);
  }
  // With every detection evaluated (the norm) the boxes and scores are the columns themselves:
  // a copy of them is tens of megabytes of fresh memory for a large results file.
  const all = dtCount === results.count;
  const dt = {
    count: dtCount,
    img: new Int32Array(dtCount),
    cat: new Int32Array(dtCount),
    box: all ? results.bbox : new Float64Array(dtCount * 4),
    area: new Float64Array(dtCount),
    score: all ? results.score : new Float64Array(dtCount),
  };
  const bbox = results.bbox;
  for (let i = 0, j = 0; i < results.count; i++) {
    const cat = categories.positionOf(results.categoryId[i]!);
    if (cat < 0) continue;
    dt.img[j] = images.positionOf(results.imageId[i]!);
    dt.cat[j] = cat;
    dt.area[j] = bbox[i * 4 + 2]! * bbox[i * 4 + 3]!;
    if (!all) {
      dt.box.set(bbox.subarray(i * 4, i * 4 + 4), j * 4);
      dt.score[j] = results.score[i]!;
    }
    j++;
  }

  return {
    imgIds: images.sorted,
    catIds: categories.sorted,
    catNames: categories.sorted.map((id) => nameById.get(id) ?? String(id)),
    gt,
    dt,
    warnings,
  };
}

/** Validated result objects as columns (the shape readDetectionColumns produces from text). */
function columnsOf(results: readonly CocoDetectionResult[]): DetectionColumns {
  const n = results.length;
  const imageId = new Float64Array(n);
  const categoryId = new Float64Array(n);
  const bbox = new Float64Array(n * 4);
  const score = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const det = results[i]!;
    imageId[i] = det.image_id;
    categoryId[i] = det.category_id;
    bbox.set(det.bbox, i * 4);
    score[i] = det.score;
  }
  return new DetectionColumns(n, imageId, categoryId, bbox, score);
}
