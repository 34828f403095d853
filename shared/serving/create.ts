import type { Config } from "../config/load.ts";
import { imageFeatures } from "../core/drift/stats.ts";
import { ingestNormaliseOptions } from "../core/usecases/normalise-options.ts";
import { latestDriftCheck, recordImageStats } from "../db/queries/drift.ts";
import type { ImageCodec, Logger, NormaliseOptions, Normaliser, ObjectStore, Queryable } from "../ports.ts";
import { createServingRoutes, type ServingRoutes } from "./http.ts";
import { ServingMetrics, type DriftGaugeSource } from "./metrics.ts";
import { Predictor, type PredictOutcome } from "./predictor.ts";

/**
 * Wires the model server for a runtime: the predictor (onnxruntime loaded on the first request, so
 * a runtime that never predicts never pays for it), the metrics registry and the HTTP routes.
 * The local runtime mounts the routes on the dashboard port; functions/serve.ts on Cloud Run.
 */
export interface ServingStack {
  predictor: Predictor;
  metrics: ServingMetrics;
  routes: ServingRoutes;
}

export interface ServingStackDeps {
  config: Pick<Config, "normalise" | "serving">;
  db: Queryable;
  store: ObjectStore;
  log: Logger;
  normaliser: () => Promise<Normaliser>;
  codec: () => Promise<ImageCodec>;
  /** `ONNX_EXECUTION_PROVIDERS` (`auto`: CUDA when a GPU is visible); CPU when absent. */
  executionProviders?: string;
  readDrift?: () => Promise<DriftGaugeSource | null>;
  onPredicted?: (outcome: PredictOutcome, alias: string) => Promise<void>;
}

/** What ingest passes (the model sees what annotators saw), as the 8-bit planes ingest encodes to PNG. */
export function servingNormaliseOptions(config: Pick<Config, "normalise">): NormaliseOptions {
  return { ...ingestNormaliseOptions(config), output: "raw" };
}

export async function createServingStack(deps: ServingStackDeps): Promise<ServingStack> {
  const { config } = deps;
  const providers = deps.executionProviders
    ? (await import("../adapters/onnx/providers.ts")).selectExecutionProviders(deps.executionProviders)
    : undefined;
  const predictor = new Predictor({
    db: deps.db,
    store: deps.store,
    log: deps.log,
    normaliser: deps.normaliser,
    codec: deps.codec,
    loadModel: async (options) => (await import("../adapters/onnx/runtime.ts")).loadModel(options),
    normaliseOptions: servingNormaliseOptions(config),
    maxRequestBytes: config.serving.maxRequestBytes,
    tileSize: config.serving.tileSize,
    ...(providers ? { executionProviders: providers } : {}),
  });
  const metrics = new ServingMetrics({ db: deps.db, log: deps.log, readDrift: deps.readDrift ?? (() => latestDriftCheck(deps.db)) });
  // Every predicted image joins the drift window, with the class fractions the model gave it.
  const record = async (outcome: PredictOutcome, alias: string): Promise<void> => {
    const stats = outcome.normalised.bandStats;
    if (!stats) return;
    await recordImageStats(deps.db, {
      source: "predict", modelId: outcome.answer.modelId, alias,
      features: imageFeatures(stats.bands, stats.nodataFraction), classFractions: outcome.answer.classFractions,
    });
  };
  const routes = createServingRoutes({
    predictor, metrics, maxRequestBytes: config.serving.maxRequestBytes, log: deps.log, onPredicted: deps.onPredicted ?? record,
  });
  return { predictor, metrics, routes };
}
