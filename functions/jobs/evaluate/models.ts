import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PermanentError } from "../../../shared/errors.ts";
import type { ModelCard } from "../../../shared/core/models/model-card.ts";
import { parseJsonDocument } from "../../../shared/core/evaluation/samples.ts";
import { joinUri } from "../../../shared/core/uri.ts";
import type { LoadedModel, LoadModelOptions } from "../../../shared/adapters/onnx/runtime.ts";
import { parseModelCard } from "../../../shared/adapters/onnx/validate.ts";
import type { Logger, ObjectStore } from "../../../shared/ports.ts";

/** Builds a session from a card and a local ONNX file (the real one is `loadModel`). */
export type ModelLoader = (options: LoadModelOptions) => Promise<LoadedModel>;

export interface FetchedModel {
  role: string;
  card: ModelCard;
  runner: LoadedModel;
  selfReported: Record<string, unknown> | null;
}

/**
 * Reads a model prefix (`model.json`, `model.onnx`, optional `metrics.json`) from the object
 * store and opens one session for it. The ONNX file is downloaded to a temporary folder and
 * loaded from there, so a large model is streamed to disk instead of held twice in memory.
 */
export async function fetchModel(
  prefix: string,
  role: string,
  deps: { store: ObjectStore; log: Logger; loadModel: ModelLoader; executionProviders?: readonly string[] },
): Promise<FetchedModel> {
  const cardUri = joinUri(prefix, "model.json");
  const card = parseModelCard(parseJsonDocument(await getRequired(deps.store, cardUri, `${role} model card`), `${role} model card ${cardUri}`));
  const metricsUri = joinUri(prefix, "metrics.json");
  let selfReported: Record<string, unknown> | null = null;
  if (await deps.store.head(metricsUri)) {
    try {
      const raw = parseJsonDocument(await deps.store.get(metricsUri), `${role} metrics.json`);
      selfReported = raw && typeof raw === "object" && !Array.isArray(raw) ? (raw as Record<string, unknown>) : null;
    } catch (err) {
      // The trainer's own numbers are informative only: a broken file must not block the evaluation.
      if (!(err instanceof PermanentError)) throw err;
      deps.log.warn("ignoring unreadable metrics.json", { role, uri: metricsUri, error: err.message });
    }
  }
  const dir = await mkdtemp(join(tmpdir(), `eval-${role}-`));
  try {
    const modelPath = join(dir, "model.onnx");
    const modelUri = joinUri(prefix, "model.onnx");
    if (!(await deps.store.head(modelUri))) throw new PermanentError("model_not_found", `${role} model has no model.onnx at ${modelUri}`);
    await deps.store.download(modelUri, modelPath);
    const runner = await deps.loadModel({ card, modelPath, ...(deps.executionProviders ? { executionProviders: deps.executionProviders } : {}) });
    for (const fallback of runner.providerFallbacks) deps.log.warn("execution provider unavailable; falling back", { role, fallback });
    deps.log.info("model loaded", {
      role, name: card.name, task: card.task, classes: card.classes.length, maxBatch: runner.maxBatch, executionProvider: runner.executionProvider,
    });
    return { role, card, runner, selfReported };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function getRequired(store: ObjectStore, uri: string, what: string): Promise<Uint8Array> {
  if (!(await store.head(uri))) throw new PermanentError("object_not_found", `${what} not found at ${uri}`);
  return store.get(uri);
}
