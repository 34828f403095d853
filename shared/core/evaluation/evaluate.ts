import { PermanentError, describeError } from "../../errors.ts";
import { classificationTruth, createClassificationEvaluator, type ClassificationTruth } from "./classification.ts";
import { createDetectionEvaluator, detectionTruth, type DetectionTruth } from "./detection.ts";
import { createSegmentationEvaluator, segmentationTruth, type SegmentationTruth } from "./segmentation.ts";
import { EXAMPLES_PER_SIDE } from "./examples.ts";
import type { EvaluationSample, EvaluatorOptions, ModelScores, ModelUnderTest, TaskEvaluator } from "./types.ts";

export type Task = "segmentation" | "detection" | "classification";

/** What a sample source yields: a loaded sample, or an item that could not be used and why. */
export type SampleOrSkip = { kind: "sample"; sample: EvaluationSample } | { kind: "skipped"; itemId: string; reason: string };

export interface ScoredSet {
  /** Per model, in the order given. */
  scores: ModelScores[];
  itemCount: number;
  skippedItems: { itemId: string; reason: string }[];
}

type AnyTruth = SegmentationTruth | DetectionTruth | ClassificationTruth;

/**
 * Scores every model on the same samples: each sample is loaded once, its ground truth is built
 * once, and every model sees it before the next sample is loaded, so memory stays at one sample
 * (plus one batch per model) however large the split, and no model can see a different set.
 *
 * An item whose label cannot be turned into ground truth (no classification, a corrupt mask) is
 * skipped for all models and listed with its reason; anything wrong with a *model* (inference
 * failure, wrong output shape, a band it needs that the data lacks) fails the evaluation.
 */
export async function scoreModels(input: {
  task: Task;
  datasetClasses: readonly string[];
  models: readonly ModelUnderTest[];
  samples: AsyncIterable<SampleOrSkip>;
  options?: EvaluatorOptions;
}): Promise<ScoredSet> {
  const { task, datasetClasses, models } = input;
  if (models.length === 0) throw new Error("scoreModels needs at least one model");
  for (const m of models) {
    if (m.runner.card.task !== task) {
      throw new PermanentError("task_mismatch", `${m.role} model "${m.runner.card.name}" is a ${m.runner.card.task} model; the dataset is ${task}`);
    }
  }
  const options = resolveOptions(input.options);
  const evaluators = models.map((m) => createTaskEvaluator(task, m, datasetClasses, options));
  const skippedItems: { itemId: string; reason: string }[] = [];
  let itemCount = 0;
  let imageId = 0;
  for await (const entry of input.samples) {
    if (entry.kind === "skipped") {
      skippedItems.push({ itemId: entry.itemId, reason: entry.reason });
      continue;
    }
    const { sample } = entry;
    let truth: AnyTruth;
    try {
      truth = prepareTruth(task, sample, datasetClasses, ++imageId);
    } catch (err) {
      if (!(err instanceof PermanentError)) throw err;
      skippedItems.push({ itemId: sample.itemId, reason: describeError(err) });
      continue;
    }
    for (const evaluator of evaluators) await evaluator.add(sample, truth);
    itemCount += 1;
  }
  const scores: ModelScores[] = [];
  for (const evaluator of evaluators) scores.push(await evaluator.finish());
  return { scores, itemCount, skippedItems };
}

export function resolveOptions(options: EvaluatorOptions = {}): Required<EvaluatorOptions> {
  return {
    tileSize: options.tileSize ?? 256,
    tileMultiple: options.tileMultiple ?? 32,
    batchSize: options.batchSize ?? 8,
    now: options.now ?? (() => 0),
    examplesPerSide: options.examplesPerSide ?? EXAMPLES_PER_SIDE,
  };
}

function prepareTruth(task: Task, sample: EvaluationSample, classes: readonly string[], imageId: number): AnyTruth {
  switch (task) {
    case "segmentation":
      return segmentationTruth(sample, classes.length);
    case "detection":
      return detectionTruth(sample, classes.length, imageId);
    case "classification":
      return classificationTruth(sample, classes.length);
  }
}

function createTaskEvaluator(
  task: Task,
  model: ModelUnderTest,
  classes: readonly string[],
  options: Required<EvaluatorOptions>,
): TaskEvaluator<AnyTruth> {
  // Each evaluator only ever receives the truth prepareTruth built for the same task.
  switch (task) {
    case "segmentation":
      return createSegmentationEvaluator(model, classes, options) as TaskEvaluator<AnyTruth>;
    case "detection":
      return createDetectionEvaluator(model, classes, options) as TaskEvaluator<AnyTruth>;
    case "classification":
      return createClassificationEvaluator(model, classes, options) as TaskEvaluator<AnyTruth>;
  }
}
