import type { Task, ScoredSet } from "./evaluate.ts";
import { findDiscrepancies } from "./discrepancies.ts";
import type { EvaluationReport, ModelResult, SetResult } from "./report.ts";
import type { ModelScores, ModelUnderTest } from "./types.ts";

/** Which dataset a set of scores came from. */
export interface ScoredDataset {
  uri: string;
  versionId: string;
  line: string;
  split: "eval" | "all";
  classes: readonly string[];
}

export function modelResult(model: ModelUnderTest, scores: ModelScores): ModelResult {
  const card = model.runner.card;
  return {
    role: model.role,
    modelId: model.modelId,
    uri: model.uri,
    name: card.name,
    classes: [...card.classes],
    outputFormat: model.runner.originalOutputFormat ? `${model.runner.originalOutputFormat} (argmax fused into the graph)` : card.output.format,
    primaryMetric: scores.primaryMetric,
    metrics: scores.metrics,
    perClassMetric: scores.perClassMetric,
    perClass: scores.perClass,
    confusion: scores.confusion,
    timings: scores.timings,
    ...(model.runner.executionProvider ? { executionProvider: model.runner.executionProvider } : {}),
    selfReported: model.selfReported,
  };
}

/** `models` are [candidate] or [candidate, champion], in the order they were scored. */
export function setResult(dataset: ScoredDataset, models: readonly ModelUnderTest[], scored: ScoredSet): SetResult {
  const [candidate, champion] = models.map((m, i) => modelResult(m, scored.scores[i]!));
  return {
    datasetUri: dataset.uri,
    versionId: dataset.versionId,
    line: dataset.line,
    split: dataset.split,
    itemCount: scored.itemCount,
    classes: [...dataset.classes],
    skippedItems: scored.skippedItems,
    candidate: candidate!,
    champion: champion ?? null,
  };
}

export function buildEvaluationReport(input: {
  evaluationId: string;
  createdAt: Date;
  task: Task;
  evaluation: SetResult;
  benchmark?: SetResult | null;
  warnings?: readonly string[];
}): EvaluationReport {
  const { evaluation } = input;
  const candidateClasses = evaluation.candidate.classes;
  const championClasses = evaluation.champion?.classes ?? null;
  const newClasses = championClasses ? candidateClasses.filter((c) => !championClasses.includes(c)) : [];
  const removedClasses = championClasses ? championClasses.filter((c) => !candidateClasses.includes(c)) : [];
  const setDescription = `the pinned ${evaluation.split} split (dataset ${evaluation.versionId.slice(0, 12)}, ${evaluation.itemCount} items)`;
  const discrepancies = [evaluation.candidate, evaluation.champion].flatMap((m) => (m ? findDiscrepancies(input.task, m, setDescription) : []));
  const warnings = [...(input.warnings ?? [])];
  if (removedClasses.length) {
    warnings.push(`the candidate no longer knows ${removedClasses.map((c) => `\`${c}\``).join(", ")}; per-class regression cannot be checked for them`);
  }
  const unknownToDataset = candidateClasses.filter((c) => !evaluation.classes.includes(c));
  if (unknownToDataset.length) {
    warnings.push(`the dataset has no class ${unknownToDataset.map((c) => `\`${c}\``).join(", ")}; the candidate's predictions of it count as wrong`);
  }
  return {
    schema: "evaluation-report/v1",
    evaluationId: input.evaluationId,
    createdAt: input.createdAt.toISOString(),
    task: input.task,
    evaluation,
    benchmark: input.benchmark ?? null,
    newClasses,
    removedClasses,
    discrepancies,
    warnings,
  };
}
