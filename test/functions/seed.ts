/**
 * Rows and objects the function tests start from (plain SQL: the state a previous step leaves).
 */
import type { Db } from "../../shared/ports.ts";
import { DEFAULT_ONTOLOGY } from "../../shared/config/schema.ts";

export async function seedItem(
  db: Db,
  item: { id: string; state: string; productName: string; width: number; height: number; backendRef?: string },
): Promise<void> {
  const assets = { image: { uri: `gs://annotation/items/${item.productName}/${item.productName}.png`, sha256: "0".repeat(64) } };
  await db.query(
    `INSERT INTO items (id, source_bucket, source_name, source_generation, kind, product_name, title, state, width, height, assets, backend, backend_ref, content_sha256)
     VALUES ($1, 'archive', $2, '1', 'image', $3, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [item.id, `uploads/${item.productName}.png`, item.productName, item.state, item.width, item.height, JSON.stringify(assets),
      item.backendRef ? "local" : null, item.backendRef ?? null, item.id.padEnd(64, "0").slice(0, 64)],
  );
}

/** A segmentation label covering the whole image with one "Clear" polygon. */
export function landPolygonAnnotation(itemId: string, width: number, height: number, editedAt = new Date().toISOString()) {
  return {
    schema: "canonical-annotation/v1",
    itemId,
    image: { width, height },
    objects: [{ id: "o1", kind: "polygon", classId: DEFAULT_ONTOLOGY.indexOf("Clear"), className: "Clear", polygon: [[0, 0, width, 0, width, height, 0, height]] }],
    classifications: [],
    provenance: { backend: "local", labelId: `inbox/${itemId}.json`, annotator: "tester", editedAt },
  };
}

/** An item in state `accepted` with its accepted annotation, as poll leaves it. */
export async function seedAcceptedSample(db: Db, id: string, width = 6, height = 4): Promise<void> {
  await seedItem(db, { id, state: "accepted", productName: `p-${id}`, width, height, backendRef: `tasks/${id}.json` });
  const canonical = landPolygonAnnotation(id, width, height);
  await db.query(
    `INSERT INTO annotations (id, item_id, backend, label_id, annotator, edited_at, canonical, canonical_sha256, verdict, reasons)
     VALUES ($1, $2, 'local', $3, 'tester', $4, $5, $6, 'accepted', '[]')`,
    [`an_${id}`, id, `inbox/${id}.json`, canonical.provenance.editedAt, JSON.stringify(canonical), "a".repeat(64)],
  );
}

/** A dataset version and a training run on it (in flight, as threshold leaves it, by default). */
export async function seedTraining(db: Db, runId: string, state: "running" | "succeeded" = "running"): Promise<{ versionId: string; outputPrefix: string }> {
  const versionId = `dsv_${runId}`;
  const outputPrefix = `gs://models/default/runs/${runId}/`;
  await db.query(
    `INSERT INTO dataset_versions (id, line, seq, manifest_uri, item_count, train_count, eval_count, fresh_count, classes, trigger)
     VALUES ($1, 'default', (SELECT coalesce(max(seq), 0) + 1 FROM dataset_versions WHERE line = 'default'), $2, 4, 3, 1, 4, $3, 'test')`,
    [versionId, `gs://datasets/default/v1/manifest.json`, JSON.stringify(DEFAULT_ONTOLOGY)],
  );
  await db.query(
    `INSERT INTO training_runs (id, line, dataset_version_id, state, execution_name, output_prefix, started_at)
     VALUES ($1, 'default', $2, $5, $3, $4, now())`,
    [runId, versionId, `projects/test-proj/locations/europe-west4/jobs/train/executions/train-${runId}`, outputPrefix, state],
  );
  return { versionId, outputPrefix };
}

/** A model card the train job's trainer would write next to model.onnx. */
export function modelCard(name: string, versionId: string) {
  return {
    schema: "model-card/v1",
    name,
    task: "segmentation",
    classes: DEFAULT_ONTOLOGY,
    input: { name: "input", layout: "NCHW", height: null, width: null, channels: ["red", "green", "blue", "nir"] },
    output: { name: "logits", format: "logits" },
    dataset: { versionId, line: "default" },
  };
}

/** An evaluation report (what the evaluate job writes) for a candidate with no champion. */
export function evaluationReport(evaluationId: string, candidateModelId: string, versionId: string, miou: number, itemCount = 5) {
  const perClass = DEFAULT_ONTOLOGY.map((className) => ({ className, support: 100, value: miou, metrics: { IoU: miou } }));
  return {
    schema: "evaluation-report/v1",
    evaluationId,
    createdAt: new Date().toISOString(),
    task: "segmentation",
    evaluation: {
      datasetUri: "gs://datasets/default/v1/manifest.json",
      versionId,
      line: "default",
      split: "eval",
      itemCount,
      classes: DEFAULT_ONTOLOGY,
      skippedItems: [],
      candidate: {
        role: "candidate",
        modelId: candidateModelId,
        uri: `gs://models/default/runs/x/`,
        name: "baseline",
        classes: DEFAULT_ONTOLOGY,
        outputFormat: "logits",
        primaryMetric: { name: "mIoU", value: miou },
        metrics: { mIoU: miou, pixelAccuracy: miou },
        perClassMetric: "IoU",
        perClass,
        confusion: null,
        timings: { inferenceMs: 10, totalMs: 20, inferenceCalls: 1, items: itemCount, pixels: 1000, pixelsPerSecond: 1e5 },
        selfReported: null,
      },
      champion: null,
    },
    benchmark: null,
    newClasses: [],
    removedClasses: [],
    discrepancies: [],
    warnings: [],
  };
}
