import type { ImageCodec, Logger, ObjectStore } from "../../ports.ts";
import type { DatasetManifest } from "../datasets/manifest.ts";
import { buildEvaluationReport, setResult } from "./build-report.ts";
import { scoreModels } from "./evaluate.ts";
import type { EvaluationReport, SetResult } from "./report.ts";
import { createSampleLoader } from "./samples.ts";
import { writeExamples } from "./examples-write.ts";
import type { EvaluatorOptions, ModelScores, ModelUnderTest } from "./types.ts";

export interface DatasetInput {
  manifest: DatasetManifest;
  uri: string;
  versionId: string;
}

/**
 * The evaluation use case shared by the evaluation job and `mlops evaluate`: scores the candidate
 * (and the champion, when given) on the manifest's pinned eval split, and on every item of an
 * optional benchmark set, then assembles the report. Models are loaded by the caller (one session
 * each) and reused for both sets. With `examplesPrefix`, each model's worst and best items of the
 * eval split are written there as PNGs (examples-write.ts) and listed in the report.
 */
export async function evaluateDataset(
  input: {
    evaluationId: string;
    createdAt: Date;
    dataset: DatasetInput;
    candidate: ModelUnderTest;
    champion: ModelUnderTest | null;
    benchmark?: DatasetInput | null;
    options?: EvaluatorOptions;
    /** Where the example pictures go (the evaluation's output prefix); none are written without it. */
    examplesPrefix?: string;
  },
  deps: { store: ObjectStore; codec: ImageCodec; log: Logger },
): Promise<EvaluationReport> {
  const models = input.champion ? [input.candidate, input.champion] : [input.candidate];
  const warnings: string[] = [];
  const { set: evaluation, scores } = await scoreSet(input.dataset, "eval", models, input.options, deps, warnings);
  if (input.examplesPrefix) {
    for (const [i, result] of [evaluation.candidate, evaluation.champion].entries()) {
      const selection = scores[i]?.examples;
      if (result && selection) result.examples = await writeExamples(selection, evaluation.classes, input.examplesPrefix, deps);
    }
  }
  const benchmark = input.benchmark ? (await scoreSet(input.benchmark, "all", models, input.options, deps, warnings)).set : null;
  return buildEvaluationReport({
    evaluationId: input.evaluationId,
    createdAt: input.createdAt,
    task: input.dataset.manifest.task,
    evaluation,
    benchmark,
    warnings,
  });
}

async function scoreSet(
  dataset: DatasetInput,
  split: "eval" | "all",
  models: readonly ModelUnderTest[],
  options: EvaluatorOptions | undefined,
  deps: { store: ObjectStore; codec: ImageCodec; log: Logger },
  warnings: string[],
): Promise<{ set: SetResult; scores: ModelScores[] }> {
  const { manifest } = dataset;
  const loader = createSampleLoader(manifest, deps, { split });
  deps.log.info("scoring models", { dataset: dataset.uri, split, items: loader.items.length, models: models.map((m) => m.role) });
  const scored = await scoreModels({ task: manifest.task, datasetClasses: manifest.classes, models, samples: loader.samples(), options });
  warnings.push(...loader.warnings.slice(0, 20));
  if (loader.warnings.length > 20) warnings.push(`… and ${loader.warnings.length - 20} more content-hash mismatches`);
  if (scored.skippedItems.length) deps.log.warn("items skipped", { dataset: dataset.uri, skipped: scored.skippedItems.length });
  const set = setResult({ uri: dataset.uri, versionId: dataset.versionId, line: manifest.line, split, classes: manifest.classes }, models, scored);
  return { set, scores: scored.scores };
}
