import { PermanentError } from "../../errors.ts";
import { accumulate } from "./coco-accumulate.ts";
import type { CocoAccumulation } from "./coco-accumulate.ts";
import { evaluateImages } from "./coco-evaluate-images.ts";
import type { CocoParams } from "./coco-evaluate-images.ts";
import { prepareCoco } from "./coco-prepare.ts";
import { summarizeDetections, summarizePerClass } from "./coco-summarize.ts";
import { AREA_RANGES, DEFAULT_MAX_DETS, IOU_THRESHOLDS, RECALL_THRESHOLDS } from "./coco-types.ts";
import type { CocoDetectionResult, CocoEvaluateOptions, CocoEvaluation, CocoGroundTruth } from "./coco-types.ts";
import type { DetectionColumns } from "./coco-results-text.ts";

export { formatCocoSummary, formatPerClassTable } from "./coco-format.ts";
export type { CocoAccumulation } from "./coco-accumulate.ts";
export * from "./coco-types.ts";
export { DetectionColumns, readDetectionColumns } from "./coco-results-text.ts";

/**
 * Bounding-box detection metrics exactly as pycocotools' `COCOeval` computes them
 * (`evaluate()`, `accumulate()`, `summarize()` with `iouType='bbox'`).
 *
 * The port follows cocoapi's `cocoeval.py`, `coco.py` (`loadRes`) and `maskApi.c` (`bbIou`) step by
 * step: same parameters (linspace thresholds, inclusive area ranges), same stable orders (images by
 * id, detections by score with ties in input order, GT with ignored last), same greedy matching,
 * same accumulation arithmetic (ε in the precision denominator, right-to-left envelope, left
 * searchsorted, mean of 101 values) and NumPy's pairwise summation in the means. Where pycocotools
 * would crash (a GT without `area` or `iscrowd`, an empty results list) we pick the obvious value
 * instead: area = w·h, not a crowd, every detection missing. A repeated annotation id (which
 * pycocotools silently resolves to the last annotation, twice) is refused as invalid input.
 *
 * Differences from Ultralytics' own mAP (greedy by IoU, trapezoid integration, no area ranges) are
 * deliberate: this is the number the evaluation report promises.
 */
export function cocoEvaluate(
  gt: CocoGroundTruth,
  dt: readonly CocoDetectionResult[] | DetectionColumns,
  options: CocoEvaluateOptions = {},
): CocoEvaluation {
  return cocoEvaluateDetailed(gt, dt, options).evaluation;
}

/** `cocoEvaluate` plus COCOeval's `eval` arrays (precision [T,R,K,A,M], recall [T,K,A,M]), for PR curves. */
export function cocoEvaluateDetailed(
  gt: CocoGroundTruth,
  dt: readonly CocoDetectionResult[] | DetectionColumns,
  options: CocoEvaluateOptions = {},
): { evaluation: CocoEvaluation; accumulation: CocoAccumulation; params: CocoParams } {
  const params = resolveParams(options);
  const prepared = prepareCoco(gt, dt);
  const images = evaluateImages(prepared, params);
  const accumulation = accumulate(images, params);
  const evaluation: CocoEvaluation = {
    stats: summarizeDetections(accumulation, params),
    perClass: params.useCats ? summarizePerClass(accumulation, params, prepared.catIds, prepared.catNames) : [],
    evalImgsCount: images.evalImgsCount,
    warnings: prepared.warnings,
  };
  return { evaluation, accumulation, params };
}

function resolveParams(options: CocoEvaluateOptions): CocoParams {
  if (options.iouType !== undefined && options.iouType !== "bbox") {
    throw new PermanentError("unsupported_iou_type", `iouType ${String(options.iouType)} is not supported; only "bbox" is`);
  }
  const maxDets = [...(options.maxDets ?? DEFAULT_MAX_DETS)];
  if (maxDets.length !== 3 || !maxDets.every((m) => Number.isInteger(m) && m > 0)) {
    throw new PermanentError("invalid_max_dets", `maxDets must be three positive integers, got ${JSON.stringify(options.maxDets)}`);
  }
  // `p.maxDets = sorted(p.maxDets)` in evaluate().
  maxDets.sort((a, b) => a - b);
  return {
    iouThrs: IOU_THRESHOLDS,
    recThrs: RECALL_THRESHOLDS,
    areaRanges: AREA_RANGES,
    maxDets,
    useCats: options.useCats ?? true,
  };
}
