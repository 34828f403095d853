import { PermanentError } from "../../errors.ts";
import { semanticMask } from "../annotation/rasterise.ts";
import {
  accumulateLogitsRegion, accumulateRegion, createSegmentationConfusion, segmentationMetrics, type Region,
} from "../metrics/segmentation.ts";
import { FixedSizeBatcher, timedRun, timingsOf, type InferenceClock } from "./batcher.ts";
import { ExtremesSelector, type ExampleItem } from "./examples.ts";
import { argmaxAt, completeItem, createItemTracker, samplePrediction, type ItemTracker } from "./segmentation-items.ts";
import { classMapByName, knownDatasetIds, matrixRows } from "./classes.ts";
import { allocateInput, inputDims, inputEncoding, selectBands, writeTile } from "./tensor.ts";
import { planTiles } from "./tiling.ts";
import type { EvaluationSample, ModelOutput, ModelScores, ModelUnderTest, Stopwatch, TaskEvaluator } from "./types.ts";

/** Ground-truth value for pixels that are not judged (nodata); dataset class ids must stay below it. */
export const GROUND_TRUTH_IGNORE = 255;

export interface SegmentationTruth {
  width: number;
  height: number;
  /** Dataset class id per pixel, row-major; GROUND_TRUTH_IGNORE where the item had nodata. */
  raster: Uint8Array;
}

/** Rasterises the canonical label once per sample, with nodata pixels set to the ignore value. */
export function segmentationTruth(sample: EvaluationSample, numClasses: number): SegmentationTruth {
  if (numClasses >= GROUND_TRUTH_IGNORE) {
    throw new PermanentError("too_many_classes", `segmentation evaluation supports at most ${GROUND_TRUTH_IGNORE - 1} classes, the dataset has ${numClasses}`);
  }
  const { width, height } = sample.annotation.image;
  // A label naming a class the dataset does not have is bad input for this item only: it is
  // skipped with this reason (scoreModels), the evaluation goes on.
  for (const object of sample.annotation.objects) {
    if (object.classId !== null && object.classId >= numClasses) {
      throw new PermanentError(
        "unknown_class",
        `item ${sample.itemId}: object ${object.id} has class id ${object.classId}, but the dataset has ${numClasses} classes (0–${numClasses - 1})`,
      );
    }
  }
  let ignore: Uint8Array | undefined;
  if (sample.nodata) {
    const mask = sample.nodata;
    if (mask.width !== width || mask.height !== height) {
      throw new PermanentError("image_size_mismatch", `item ${sample.itemId}: nodata mask is ${mask.width}×${mask.height}, the label is ${width}×${height}`);
    }
    ignore = mask.channels === 1 ? mask.data : firstChannel(mask.data, mask.channels, width * height);
  }
  const raster = semanticMask(sample.annotation, { ignore, ignoreValue: GROUND_TRUTH_IGNORE });
  return { width, height, raster };
}

function firstChannel(data: Uint8Array, channels: number, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels);
  for (let i = 0; i < pixels; i++) out[i] = data[i * channels]!;
  return out;
}

interface TileJob {
  truth: SegmentationTruth;
  item: ItemTracker;
  region: Region;
  inputWidth: number;
  inputHeight: number;
}

/**
 * Scores one segmentation model: tiles each image (see tiling.ts), runs the model (batched when it
 * has a fixed size), takes the argmax of logits or reads labels, maps model classes to dataset
 * classes by name and accumulates one confusion matrix over the whole split. Along the way it keeps
 * the worst and best `examplesPerSide` items by their own mIoU, as thumbnails (segmentation-items.ts).
 */
export function createSegmentationEvaluator(
  model: ModelUnderTest,
  datasetClasses: readonly string[],
  options: { tileSize: number; tileMultiple: number; batchSize: number; now: Stopwatch; examplesPerSide: number },
): TaskEvaluator<SegmentationTruth> {
  const card = model.runner.card;
  const encoding = inputEncoding(card);
  const classMap = classMapByName(card.classes, datasetClasses);
  const k = datasetClasses.length;
  const confusion = createSegmentationConfusion(k);
  const clock: InferenceClock = { inferenceMs: 0, calls: 0 };
  const { now } = options;
  const accumulateOptions = { ignoreIndex: GROUND_TRUTH_IGNORE, classMap };
  const meanOver = knownDatasetIds(classMap);
  const examples = new ExtremesSelector<ExampleItem>(options.examplesPerSide);
  let totalMs = 0;
  let items = 0;
  let pixels = 0;

  const consume = (job: TileJob, output: ModelOutput, slot: number): void => {
    const { inputWidth: w, inputHeight: h } = job;
    const plane = w * h;
    if (card.output.format === "logits") {
      const c = card.classes.length;
      expectDims(output, [null, c, h, w], "[N,C,H,W]", card.output.name);
      if (!(output.data instanceof Float32Array)) throw new PermanentError("bad_model_output", `logits output "${card.output.name}" is not float`);
      const logits = output.data;
      const offset = slot * c * plane;
      accumulateLogitsRegion(job.item.confusion, job.truth.raster, job.truth.width, job.region, logits, offset, c, w, h, accumulateOptions);
      samplePrediction(job.item, job.region, classMap, (x, y) => argmaxAt(logits, offset + y * w + x, c, plane));
    } else {
      expectDims(output, [null, h, w], "[N,H,W]", card.output.name);
      if (!(output.data instanceof Int32Array)) throw new PermanentError("bad_model_output", `labels output "${card.output.name}" is not integer`);
      const labels = output.data;
      accumulateRegion(job.item.confusion, job.truth.raster, job.truth.width, job.region, labels, slot * plane, w, accumulateOptions);
      samplePrediction(job.item, job.region, classMap, (x, y) => labels[slot * plane + y * w + x]!);
    }
    job.item.remaining -= 1;
    if (job.item.remaining === 0) completeItem(job.item, confusion, meanOver, examples);
  };

  // Fully convolutional tiles come in a few sizes (full tiles, edge tiles): reuse their buffers.
  const scratch = new Map<string, Float32Array | Uint8Array>();
  const scratchInput = (h: number, w: number): Float32Array | Uint8Array => {
    const key = `${h}x${w}`;
    let tensor = scratch.get(key);
    if (!tensor) {
      tensor = allocateInput(encoding, 1, h, w);
      if (scratch.size < 8) scratch.set(key, tensor);
    }
    return tensor;
  };

  const fixed = card.input.width !== null && card.input.height !== null;
  const batcher = fixed
    ? new FixedSizeBatcher<TileJob>(
        model.runner, encoding, card.input.height!, card.input.width!,
        Math.max(1, Math.min(options.batchSize, model.runner.maxBatch)), consume, clock, now,
      )
    : null;

  return {
    async add(sample, truth) {
      const start = now();
      const bands = selectBands(sample.images, card.input.channels, sample.itemId);
      if (bands.width !== truth.width || bands.height !== truth.height) {
        throw new PermanentError(
          "image_size_mismatch",
          `item ${sample.itemId}: image is ${bands.width}×${bands.height} but its label is ${truth.width}×${truth.height}`,
        );
      }
      const tiles = planTiles(truth.width, truth.height, card.input, options);
      const item = createItemTracker(sample, truth, k, tiles.length);
      for (const tile of tiles) {
        const job: TileJob = { truth, item, ...tile };
        if (batcher) {
          await batcher.add(job, (tensor, slot) => writeTile(tensor, slot, encoding, tile.inputHeight, tile.inputWidth, bands, tile.region));
        } else {
          const tensor = scratchInput(tile.inputHeight, tile.inputWidth);
          writeTile(tensor, 0, encoding, tile.inputHeight, tile.inputWidth, bands, tile.region);
          const output = await timedRun(model.runner, tensor, inputDims(encoding, 1, tile.inputHeight, tile.inputWidth), clock, now);
          consume(job, output, 0);
        }
      }
      // Batched tiles may still hold this sample's truth; it is released when the batch runs.
      items += 1;
      pixels += truth.width * truth.height;
      totalMs += now() - start;
    },

    async finish() {
      const start = now();
      await batcher?.flush();
      totalMs += now() - start;
      const metrics = segmentationMetrics(confusion, meanOver);
      return {
        primaryMetric: { name: "mIoU", value: metrics.mIoU },
        metrics: {
          mIoU: metrics.mIoU,
          pixelAccuracy: metrics.pixelAccuracy,
          meanAccuracy: metrics.meanAccuracy,
          mDice: metrics.mDice,
        },
        perClassMetric: "IoU",
        perClass: card.classes.map((className, i) => {
          const id = classMap[i]!;
          const m = id >= 0 ? metrics.perClass[id] : undefined;
          return {
            className,
            support: m?.support ?? 0,
            value: m?.iou ?? null,
            metrics: { IoU: m?.iou ?? null, accuracy: m?.accuracy ?? null, dice: m?.dice ?? null, predicted: m?.predicted ?? 0 },
          };
        }),
        confusion: { labels: [...datasetClasses], matrix: matrixRows(confusion.matrix, k), outOfRange: Array.from(confusion.outOfRange) },
        timings: timingsOf(clock, totalMs, items, pixels),
        examples: examples.result(),
      } satisfies ModelScores;
    },
  };
}

/** Checks an output's shape; `null` entries are not checked (the batch size). */
export function expectDims(output: ModelOutput, want: readonly (number | null)[], shape: string, name: string): void {
  const ok = output.dims.length === want.length && want.every((d, i) => d === null || output.dims[i] === d);
  const expected = output.data.length === output.dims.reduce((a, b) => a * b, 1);
  if (!ok || !expected) {
    throw new PermanentError(
      "bad_model_output",
      `output "${name}" has shape [${output.dims.join(",")}] (${output.data.length} values); expected ${shape} = [${want.map((d) => d ?? "N").join(",")}]`,
    );
  }
}
