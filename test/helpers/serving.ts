import { buildBaselineCard, buildBaselineOnnx } from "../../functions/jobs/trainers/baseline-model.ts";
import { initWeights, type MlpShape } from "../../shared/core/training/mlp.ts";
import { SeededRng } from "../../shared/core/training/rng.ts";
import { insertModel, moveAlias } from "../../shared/db/queries/models.ts";
import type { ObjectStore, Queryable } from "../../shared/ports.ts";

export const SERVE_CLASSES = ["Fill", "Clear", "Cloud"];

/** Writes a baseline (per-pixel MLP) model under gs://models/<id>/ and registers it. */
export async function seedServedModel(db: Queryable, store: ObjectStore, id: string, seed: number, options: { datasetVersionId?: string | null } = {}): Promise<void> {
  const shape: MlpShape = { inputs: 4, hidden: 8, classes: SERVE_CLASSES.length };
  const weights = initWeights(shape, new SeededRng(seed));
  const card = buildBaselineCard({
    classes: SERVE_CLASSES, channels: ["red", "green", "blue", "nir"], normalisation: { mean: [0.3, 0.3, 0.3, 0.3], std: [0.2, 0.2, 0.2, 0.2] },
    params: {}, versionId: options.datasetVersionId ?? "v-test", line: "main", createdAt: "2026-01-01T00:00:00Z",
  });
  const uri = `gs://models/${id}`;
  await store.put(`${uri}/model.onnx`, buildBaselineOnnx(shape, weights));
  await store.put(`${uri}/model.json`, JSON.stringify(card));
  await insertModel(db, { id, trainingRunId: null, name: card.name, task: card.task, uri, card, datasetVersionId: options.datasetVersionId ?? null });
}

let moves = 0;
export async function pointAlias(db: Queryable, alias: string, modelId: string): Promise<void> {
  await moveAlias(db, { alias, modelId, decisionId: null, actor: "test", reason: "test", causeId: `cause-${++moves}-${Date.now()}` });
}
