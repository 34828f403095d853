import { PermanentError } from "../../errors.ts";
import { addClassification, argmaxRows, classificationMetrics, createClassificationConfusion } from "../metrics/classification.ts";
import { FixedSizeBatcher, timedRun, timingsOf, type InferenceClock } from "./batcher.ts";
import { classMapByName, knownDatasetIds, matrixRows } from "./classes.ts";
import { expectDims } from "./segmentation.ts";
import { allocateInput, inputDims, inputEncoding, letterboxPlacement, selectBands, writeResampled, writeTile } from "./tensor.ts";
import type { EvaluationSample, ModelOutput, ModelScores, ModelUnderTest, Stopwatch, TaskEvaluator } from "./types.ts";

export interface ClassificationTruth {
  /** Dataset class id of the item's first classification. */
  classId: number;
}

/** The ground truth of a classification item: its first classification — the evaluation contract in docs/jobs.md. */
export function classificationTruth(sample: EvaluationSample, numClasses: number): ClassificationTruth {
  const first = sample.annotation.classifications[0];
  if (!first) throw new PermanentError("no_classification", `item ${sample.itemId} has no classification label`);
  if (first.classId === null) throw new PermanentError("unknown_class", `item ${sample.itemId} is labelled "${first.className}", which the ontology does not have`);
  if (first.classId >= numClasses) {
    throw new PermanentError("unknown_class", `item ${sample.itemId} has class id ${first.classId}, but the dataset has ${numClasses} classes`);
  }
  return { classId: first.classId };
}

/**
 * Scores one classifier. Fixed-size models get each image letterboxed to their size (aspect
 * kept, padded with the card's pad value) and are batched; models without a fixed size see the
 * whole image, one at a time. Logits `[N,C]` → argmax → dataset class by name.
 */
export function createClassificationEvaluator(
  model: ModelUnderTest,
  datasetClasses: readonly string[],
  options: { batchSize: number; now: Stopwatch },
): TaskEvaluator<ClassificationTruth> {
  const card = model.runner.card;
  const encoding = inputEncoding(card);
  const classMap = classMapByName(card.classes, datasetClasses);
  const confusion = createClassificationConfusion(datasetClasses.length);
  const clock: InferenceClock = { inferenceMs: 0, calls: 0 };
  const { now } = options;
  const c = card.classes.length;
  let totalMs = 0;
  let items = 0;
  let pixels = 0;

  const consume = (truth: ClassificationTruth, output: ModelOutput, slot: number): void => {
    expectDims(output, [null, c], "[N,C]", card.output.name);
    if (!(output.data instanceof Float32Array)) throw new PermanentError("bad_model_output", `logits output "${card.output.name}" is not float`);
    const predicted = argmaxRows(output.data.subarray(slot * c, (slot + 1) * c), [1, c])[0]!;
    addClassification(confusion, truth.classId, classMap[predicted] ?? -1);
  };

  const fixedW = card.input.width;
  const fixedH = card.input.height;
  const batcher = fixedW !== null && fixedH !== null
    ? new FixedSizeBatcher<ClassificationTruth>(model.runner, encoding, fixedH, fixedW, Math.max(1, Math.min(options.batchSize, model.runner.maxBatch)), consume, clock, now)
    : null;

  return {
    async add(sample, truth) {
      const start = now();
      const bands = selectBands(sample.images, card.input.channels, sample.itemId);
      if (batcher) {
        const placement = letterboxPlacement(bands.width, bands.height, batcher.inputWidth, batcher.inputHeight);
        await batcher.add(truth, (tensor, slot) =>
          writeResampled(tensor, slot, encoding, batcher.inputHeight, batcher.inputWidth, bands, placement, card.input.letterboxPad));
      } else {
        const tensor = allocateInput(encoding, 1, bands.height, bands.width);
        writeTile(tensor, 0, encoding, bands.height, bands.width, bands, { x: 0, y: 0, width: bands.width, height: bands.height });
        consume(truth, await timedRun(model.runner, tensor, inputDims(encoding, 1, bands.height, bands.width), clock, now), 0);
      }
      items += 1;
      pixels += bands.width * bands.height;
      totalMs += now() - start;
    },

    async finish() {
      const start = now();
      await batcher?.flush();
      totalMs += now() - start;
      const metrics = classificationMetrics(confusion, knownDatasetIds(classMap));
      return {
        primaryMetric: { name: "macroF1", value: metrics.macroF1 },
        metrics: { macroF1: metrics.macroF1, accuracy: metrics.accuracy },
        perClassMetric: "F1",
        perClass: card.classes.map((className, i) => {
          const id = classMap[i]!;
          const m = id >= 0 ? metrics.perClass[id] : undefined;
          return {
            className,
            support: m?.support ?? 0,
            value: m?.f1 ?? null,
            metrics: { F1: m?.f1 ?? null, precision: m?.precision ?? null, recall: m?.recall ?? null, predicted: m?.predicted ?? 0 },
          };
        }),
        confusion: { labels: [...datasetClasses], matrix: matrixRows(confusion.matrix, datasetClasses.length), outOfRange: Array.from(confusion.outOfRange) },
        timings: timingsOf(clock, totalMs, items, pixels),
      } satisfies ModelScores;
    },
  };
}
