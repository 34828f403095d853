import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { PermanentError, describeError } from "../../shared/errors.ts";
import { buildEnvelope } from "../../shared/messages/build.ts";
import { EvaluationReportSchema, renderPerClassSvg, renderSummaryHtml, renderSummaryMarkdown, type EvaluationReport } from "../../shared/core/evaluation/report.ts";
import { evaluateDataset, type DatasetInput } from "../../shared/core/evaluation/run.ts";
import { parseJsonDocument, readStoredManifest } from "../../shared/core/evaluation/samples.ts";
import type { ModelUnderTest } from "../../shared/core/evaluation/types.ts";
import { joinUri } from "../../shared/core/uri.ts";
import type { JobDeps } from "../../shared/runtime/job-deps.ts";
import { JOB_EXIT, parseEvaluateJobEnv, type EvaluateJobEnv as EvaluateEnv } from "../../shared/messages/jobs.ts";
import { selectExecutionProviders } from "../../shared/adapters/onnx/providers.ts";
import { fetchModel, type FetchedModel, type ModelLoader } from "./evaluate/models.ts";

/**
 * The evaluation job (Cloud Run job; a child process locally). Scores the candidate and the
 * champion with the same code on the same pinned eval split, writes the report and its renderings
 * under REPORT_PREFIX (with `examples/<sha256>.png`: input, label and prediction of each model's
 * worst and best items) and announces `evaluation.completed`.
 *
 * Exit codes (JOB_EXIT in shared/messages/jobs.ts): 0 when done, or when the problem is permanent
 * (`evaluation.failed` is published with the reason: a model that does not match its card, a
 * corrupt manifest); 1 for transient problems (store or network errors) so Cloud Run retries the
 * task (and reconcile relaunches the evaluation when the retries run out); 2 when the environment
 * is unusable and no failure message can be addressed (reconcile fails the evaluation).
 *
 * Models run on the execution providers ONNX_EXECUTION_PROVIDERS asks for (`auto`: CUDA when a GPU
 * is visible), falling back to the CPU; the report names the provider that ran each model.
 *
 * Re-runs are idempotent: report.json is written last, and when it already exists the job only
 * republishes `evaluation.completed` (same message id, so consumers deduplicate it).
 */
export interface EvaluateJobDeps extends Pick<JobDeps, "store" | "publisher" | "codec" | "clock" | "log"> {
  loadModel?: ModelLoader;
  /** Milliseconds, for timings (performance.now by default). */
  now?: () => number;
}

export const REPORT_FILES = {
  report: "report.json",
  markdown: "summary.md",
  html: "summary.html",
  svg: "per-class.svg",
} as const;

export async function runEvaluationJob(rawEnv: Record<string, string | undefined>, deps: EvaluateJobDeps): Promise<number> {
  let env: EvaluateEnv;
  try {
    env = parseEvaluateJobEnv(rawEnv);
  } catch (err) {
    const evaluationId = rawEnv.EVALUATION_ID;
    deps.log.error(describeError(err), { evaluationId });
    if (!evaluationId) return JOB_EXIT.badInput;
    return publishFailure(evaluationId, describeError(err), rawEnv.CORRELATION_ID, deps);
  }
  const log = deps.log.child({ evaluationId: env.EVALUATION_ID });
  const reportUri = joinUri(env.REPORT_PREFIX, REPORT_FILES.report);
  try {
    const existing = await readExistingReport(reportUri, deps);
    if (existing) {
      log.info("report already exists; republishing evaluation.completed", { reportUri });
      await publishCompleted(env, existing, deps);
      return JOB_EXIT.ok;
    }
    const report = await evaluate(env, { ...deps, log });
    await writeReport(env, report, deps);
    await publishCompleted(env, report, deps);
    log.info("evaluation completed", {
      reportUri,
      items: report.evaluation.itemCount,
      candidate: report.evaluation.candidate.primaryMetric,
      champion: report.evaluation.champion?.primaryMetric ?? null,
    });
    return JOB_EXIT.ok;
  } catch (err) {
    if (err instanceof PermanentError) {
      log.error("evaluation failed permanently", { error: describeError(err) });
      return publishFailure(env.EVALUATION_ID, describeError(err), env.CORRELATION_ID, deps);
    }
    log.error("evaluation failed; exiting non-zero so the task is retried", { error: describeError(err) });
    return JOB_EXIT.retry;
  }
}

async function evaluate(env: EvaluateEnv, deps: EvaluateJobDeps): Promise<EvaluationReport> {
  const loadModel = deps.loadModel ?? (await import("../../shared/adapters/onnx/runtime.ts")).loadModel;
  const dataset = await readDataset(env.DATASET_URI, deps);
  const benchmark = env.BENCHMARK_DATASET_URI ? await readDataset(env.BENCHMARK_DATASET_URI, deps) : null;
  const codec = await deps.codec();
  const loaded: FetchedModel[] = [];
  try {
    const executionProviders = selectExecutionProviders(env.ONNX_EXECUTION_PROVIDERS);
    const modelDeps = { ...deps, loadModel, executionProviders };
    const candidate = await fetchModel(env.CANDIDATE_MODEL_URI, "candidate", modelDeps);
    loaded.push(candidate);
    const champion = env.CHAMPION_MODEL_URI ? await fetchModel(env.CHAMPION_MODEL_URI, "champion", modelDeps) : null;
    if (champion) loaded.push(champion);
    const asUnderTest = (m: FetchedModel, role: "candidate" | "champion", uri: string, id: string | undefined): ModelUnderTest => ({
      role, uri, modelId: id ?? uri, runner: m.runner, selfReported: m.selfReported,
    });
    const report = await evaluateDataset(
      {
        evaluationId: env.EVALUATION_ID,
        createdAt: deps.clock.now(),
        dataset,
        candidate: asUnderTest(candidate, "candidate", env.CANDIDATE_MODEL_URI, env.CANDIDATE_MODEL_ID),
        champion: champion ? asUnderTest(champion, "champion", env.CHAMPION_MODEL_URI!, env.CHAMPION_MODEL_ID) : null,
        benchmark,
        options: { now: deps.now ?? (() => performance.now()), batchSize: env.EVAL_BATCH_SIZE, tileSize: env.EVAL_TILE_SIZE },
        // Pictures of the worst and best items, content-addressed beside the report.
        examplesPrefix: env.REPORT_PREFIX,
      },
      { store: deps.store, codec, log: deps.log },
    );
    // A GPU job quietly running on the CPU is worth a line in the report, not only in the logs.
    for (const m of loaded) {
      for (const fallback of m.runner.providerFallbacks) {
        report.warnings.push(`${m.role} model: execution provider ${fallback}; ran on ${m.runner.executionProvider}`);
      }
    }
    return report;
  } finally {
    for (const m of loaded) await m.runner.release().catch(() => undefined);
  }
}

async function readDataset(uri: string, deps: EvaluateJobDeps): Promise<DatasetInput> {
  if (!(await deps.store.head(uri))) throw new PermanentError("manifest_not_found", `dataset manifest not found at ${uri}`);
  const { manifest, versionId } = await readStoredManifest(deps.store, uri);
  return { manifest, uri, versionId };
}

/** The existing report, or null when there is none (or it is unreadable: then evaluate again). */
async function readExistingReport(uri: string, deps: EvaluateJobDeps): Promise<EvaluationReport | null> {
  if (!(await deps.store.head(uri))) return null;
  try {
    const parsed = EvaluationReportSchema.safeParse(parseJsonDocument(await deps.store.get(uri), "existing report"));
    if (parsed.success) return parsed.data;
  } catch (err) {
    if (!(err instanceof PermanentError)) throw err;
  }
  deps.log.warn("existing report is unreadable; evaluating again", { uri });
  return null;
}

/** Renderings first, report.json last: its presence is what marks the evaluation done. */
async function writeReport(env: EvaluateEnv, report: EvaluationReport, deps: EvaluateJobDeps): Promise<void> {
  const at = (name: string) => joinUri(env.REPORT_PREFIX, name);
  await deps.store.put(at(REPORT_FILES.markdown), renderSummaryMarkdown(report), { contentType: "text/markdown; charset=utf-8" });
  await deps.store.put(at(REPORT_FILES.html), renderSummaryHtml(report), { contentType: "text/html; charset=utf-8" });
  await deps.store.put(at(REPORT_FILES.svg), renderPerClassSvg(report), { contentType: "image/svg+xml" });
  await deps.store.put(at(REPORT_FILES.report), `${JSON.stringify(report, null, 2)}\n`, { contentType: "application/json" });
}

async function publishCompleted(env: EvaluateEnv, report: EvaluationReport, deps: EvaluateJobDeps): Promise<void> {
  const envelope = buildEnvelope(
    "evaluation.completed",
    {
      evaluationId: env.EVALUATION_ID,
      candidateModelId: report.evaluation.candidate.modelId,
      championModelId: report.evaluation.champion?.modelId ?? null,
      reportUri: joinUri(env.REPORT_PREFIX, REPORT_FILES.report),
      summaryUri: joinUri(env.REPORT_PREFIX, REPORT_FILES.html),
    },
    { id: `evaluation.completed:${env.EVALUATION_ID}`, occurredAt: deps.clock.now(), correlationId: env.CORRELATION_ID },
  );
  await deps.publisher.publish(envelope);
}

async function publishFailure(evaluationId: string, reason: string, correlationId: string | undefined, deps: EvaluateJobDeps): Promise<number> {
  try {
    const envelope = buildEnvelope(
      "evaluation.failed",
      { evaluationId, reason },
      { id: `evaluation.failed:${evaluationId}`, occurredAt: deps.clock.now(), correlationId },
    );
    await deps.publisher.publish(envelope);
    return JOB_EXIT.ok;
  } catch (err) {
    deps.log.error("could not publish evaluation.failed", { evaluationId, error: describeError(err) });
    return JOB_EXIT.retry;
  }
}

async function main(): Promise<void> {
  const { createJobDeps } = await import("../../shared/runtime/job-deps.ts");
  let deps: JobDeps;
  try {
    deps = await createJobDeps(process.env, "evaluate");
  } catch (err) {
    // No logger yet (the configuration is what failed): one JSON line Cloud Logging understands.
    process.stderr.write(`${JSON.stringify({ severity: "ERROR", message: `evaluation job cannot start: ${describeError(err)}` })}\n`);
    process.exitCode = JOB_EXIT.badInput;
    return;
  }
  process.exitCode = await runEvaluationJob(process.env, deps);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
