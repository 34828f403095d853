import type { DecodedRaster } from "../../ports.ts";
import { createSegmentationConfusion, mergeSegmentationConfusion, segmentationMetrics, type Region, type SegmentationConfusion } from "../metrics/segmentation.ts";
import { OUT_OF_RANGE_VALUE, inputThumbnail, labelThumbnail, sampleGrid, type ExampleItem, type ExtremesSelector, type SampleGrid } from "./examples.ts";
import type { EvaluationSample } from "./types.ts";

/**
 * Per-item bookkeeping of the segmentation evaluator. Each item's tiles are counted into the item's
 * own confusion matrix, which is folded into the split's matrix when its last tile is in (so the
 * hot loop still runs once per pixel, and the split's numbers are the same sums as before); the
 * item's own mIoU then ranks it for the worst/best examples. The prediction picture is sampled
 * straight from each tile's output onto the thumbnail grid, so no full-size prediction raster is
 * ever built.
 */
export interface ItemTracker {
  readonly sample: { itemId: string; width: number; height: number };
  readonly confusion: SegmentationConfusion;
  readonly grid: SampleGrid;
  readonly input: DecodedRaster;
  readonly label: DecodedRaster;
  readonly prediction: DecodedRaster;
  /** Tiles not yet consumed. */
  remaining: number;
}

export function createItemTracker(
  sample: EvaluationSample,
  truth: { width: number; height: number; raster: Uint8Array },
  numClasses: number,
  tiles: number,
): ItemTracker {
  const grid = sampleGrid(truth.width, truth.height);
  return {
    sample: { itemId: sample.itemId, width: truth.width, height: truth.height },
    confusion: createSegmentationConfusion(numClasses),
    grid,
    input: inputThumbnail(sample.images, grid),
    label: labelThumbnail(truth.raster, truth.width, grid),
    prediction: { width: grid.width, height: grid.height, channels: 1, data: new Uint8Array(grid.width * grid.height) },
    remaining: tiles,
  };
}

/**
 * Writes the predicted dataset class of every thumbnail pixel that falls in `region`. `read(x, y)`
 * returns the model's class index at tile coordinates; `classMap` maps it to a dataset id.
 */
export function samplePrediction(tracker: ItemTracker, region: Region, classMap: Int32Array, read: (x: number, y: number) => number): void {
  const { grid, prediction } = tracker;
  for (let ty = 0; ty < grid.height; ty++) {
    const sy = grid.ys[ty]!;
    if (sy < region.y || sy >= region.y + region.height) continue;
    for (let tx = 0; tx < grid.width; tx++) {
      const sx = grid.xs[tx]!;
      if (sx < region.x || sx >= region.x + region.width) continue;
      const value = read(sx - region.x, sy - region.y);
      const id = value >= 0 && value < classMap.length ? classMap[value]! : -1;
      prediction.data[ty * grid.width + tx] = id >= 0 ? id : OUT_OF_RANGE_VALUE;
    }
  }
}

/** Argmax over `channels` planes at one pixel (NaN never wins; ties go to the lowest channel). */
export function argmaxAt(logits: Float32Array, offset: number, channels: number, plane: number): number {
  let best = -Infinity;
  let arg = 0;
  for (let c = 0; c < channels; c++) {
    const v = logits[offset + c * plane]!;
    if (v > best) {
      best = v;
      arg = c;
    }
  }
  return arg;
}

/**
 * Folds a finished item into the split's matrix and offers it to the selector by its own mIoU (over
 * the model's classes the item has or the model predicted). An item with no judged pixel has no
 * score and is not offered.
 */
export function completeItem(tracker: ItemTracker, into: SegmentationConfusion, meanOver: readonly number[], selector: ExtremesSelector<ExampleItem>): void {
  mergeSegmentationConfusion(into, tracker.confusion);
  const metrics = segmentationMetrics(tracker.confusion, meanOver);
  if (metrics.mIoU === null) return;
  selector.offer({
    itemId: tracker.sample.itemId,
    score: metrics.mIoU,
    pixelAccuracy: metrics.pixelAccuracy,
    sourceWidth: tracker.sample.width,
    sourceHeight: tracker.sample.height,
    input: tracker.input,
    label: tracker.label,
    prediction: tracker.prediction,
  });
}
