/**
 * Sample snapshots for tests and for previewing the page without a database. The numbers are
 * internally consistent: states sum to the total, the funnel narrows as items move on, and the
 * leaderboard, aliases and alias history describe the same promotions.
 *
 * Story: 242 uploads (two of them duplicates, one item flagged with a warning); three dataset versions frozen; run 2 failed once on GPU memory and succeeded
 * on retry; model 2 is in staging and waits for an `approve` to reach prod; run 3 is training.
 */
import { ITEM_STATES, type ItemState, type StatusSnapshot } from "../core/status/snapshot.ts";

const GENERATED_AT = "2026-11-23T14:05:00.000Z";

const DATASET_1 = "3f9a1c2e7b4d5a6f8e9d0c1b2a3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f";
const DATASET_2 = "8b1e4d7a0c3f6e9b2d5a8c1f4e7b0a3d6c9f2e5b8a1d4c7f0e3b6a9d2c5f8e1b";
const DATASET_3 = "c5d2e9f6a3b0c7d4e1f8a5b2c9d6e3f0a7b4c1d8e5f2a9b6c3d0e7f4a1b8c5d2";
const MODEL_1 = "mdl_01JD2K9Q7R4T5V6W7X8Y9Z0A1B";
const MODEL_2 = "mdl_01JD7M3N4P5Q6R7S8T9V0W1X2Y";
const EVAL_1 = "evl_01JD2M1A2B3C4D5E6F7G8H9J0K";
const EVAL_2 = "evl_01JD7P8Q9R0S1T2V3W4X5Y6Z7A";

/** Hourly label counts for the twelve hours before `GENERATED_AT` (newest last). */
const HOURLY: [accepted: number, rejected: number][] = [
  [4, 1], [7, 0], [12, 2], [9, 3], [0, 0], [3, 1], [15, 2], [18, 4], [11, 1], [6, 0], [9, 2], [5, 1],
];

export function sampleStatusSnapshot(): StatusSnapshot {
  const start = Date.parse(GENERATED_AT) - 12 * 3_600_000;
  const hour = (h: number): string => new Date(start + h * 3_600_000).toISOString();
  return {
    generatedAt: GENERATED_AT,
    itemsByState: { seen: 4, normalised: 6, registered: 38, annotated: 2, accepted: 22, rejected: 17, in_dataset: 146, failed: 5, duplicate: 2 },
    // 3 failed while normalising and 2 while registering, 2 were duplicates; every other drop is an item still waiting.
    funnel: { seen: 242, normalised: 233, registered: 225, annotated: 187, accepted: 168, rejected: 17, in_dataset: 146, failed: 5, duplicate: 2 },
    itemsTotal: 242,
    throughput: HOURLY.map(([accepted, rejected], i) => ({ bucketStart: hour(i), accepted, rejected })),
    throughputBucketMinutes: 60,
    datasetVersions: [
      { id: DATASET_3, line: "default", seq: 3, itemCount: 146, trainCount: 117, evalCount: 29, freshCount: 52, trigger: "threshold: 52 fresh accepted ≥ 50", manifestUri: `gs://mlops-datasets/default/v3/${DATASET_3}.json`, createdAt: "2026-11-23T13:20:00.000Z" },
      { id: DATASET_2, line: "default", seq: 2, itemCount: 94, trainCount: 75, evalCount: 19, freshCount: 44, trigger: "command: retrain by ana@example.com", manifestUri: `gs://mlops-datasets/default/v2/${DATASET_2}.json`, createdAt: "2026-11-22T16:02:00.000Z" },
      { id: DATASET_1, line: "default", seq: 1, itemCount: 50, trainCount: 40, evalCount: 10, freshCount: 50, trigger: "threshold: 50 fresh accepted ≥ 50", manifestUri: `gs://mlops-datasets/default/v1/${DATASET_1}.json`, createdAt: "2026-11-21T09:41:00.000Z" },
    ],
    trainingRuns: [
      { id: "run_01JD9A", line: "default", datasetVersionId: DATASET_3, datasetSeq: 3, state: "running", attempt: 1, executionName: "train-default-9xk2p", modelId: null, error: null, createdAt: "2026-11-23T13:21:00.000Z", finishedAt: null },
      { id: "run_01JD7B", line: "default", datasetVersionId: DATASET_2, datasetSeq: 2, state: "succeeded", attempt: 2, executionName: "train-default-7hq4m", modelId: MODEL_2, error: null, createdAt: "2026-11-22T17:10:00.000Z", finishedAt: "2026-11-22T17:52:00.000Z" },
      { id: "run_01JD7A", line: "default", datasetVersionId: DATASET_2, datasetSeq: 2, state: "failed", attempt: 1, executionName: "train-default-7gz1c", modelId: null, error: "trainer exited with code 1: CUDA out of memory (tried to allocate 2.00 GiB)", createdAt: "2026-11-22T16:03:00.000Z", finishedAt: "2026-11-22T16:31:00.000Z" },
      { id: "run_01JD2A", line: "default", datasetVersionId: DATASET_1, datasetSeq: 1, state: "succeeded", attempt: 1, executionName: "train-default-2b8vd", modelId: MODEL_1, error: null, createdAt: "2026-11-21T09:42:00.000Z", finishedAt: "2026-11-21T10:15:00.000Z" },
    ],
    evaluations: [
      { id: EVAL_2, candidateModelId: MODEL_2, championModelId: MODEL_1, state: "succeeded", primaryMetric: "mIoU", candidateValue: 0.8123, championValue: 0.7641, reportUri: `gs://mlops-models/evaluations/${EVAL_2}/report.json`, summaryUri: `gs://mlops-models/evaluations/${EVAL_2}/summary.md`, decision: "staging: promoted (+0.0482 mIoU); prod: needs approval", error: null, createdAt: "2026-11-22T17:55:00.000Z" },
      { id: EVAL_1, candidateModelId: MODEL_1, championModelId: null, state: "succeeded", primaryMetric: "mIoU", candidateValue: 0.7641, championValue: null, reportUri: `gs://mlops-models/evaluations/${EVAL_1}/report.json`, summaryUri: null, decision: "staging and prod: promoted (no champion)", error: null, createdAt: "2026-11-21T10:18:00.000Z" },
    ],
    leaderboard: [
      { modelId: MODEL_2, name: "cloudmask-v2", task: "segmentation", datasetSeq: 2, metric: "mIoU", value: 0.8123, aliases: ["staging"], createdAt: "2026-11-22T17:52:00.000Z" },
      { modelId: MODEL_1, name: "cloudmask-v1", task: "segmentation", datasetSeq: 1, metric: "mIoU", value: 0.7641, aliases: ["prod"], createdAt: "2026-11-21T10:15:00.000Z" },
    ],
    aliases: [
      { alias: "prod", modelId: MODEL_1, movedAt: "2026-11-21T10:19:00.000Z" },
      { alias: "staging", modelId: MODEL_2, movedAt: "2026-11-22T17:56:00.000Z" },
    ],
    aliasHistory: [
      { id: 3, alias: "staging", modelId: MODEL_2, previousModelId: MODEL_1, actor: "policy", reason: "mIoU +0.0482 ≥ min improvement 0.01; no class regressed more than 0.05", evaluationId: EVAL_2, reportUri: `gs://mlops-models/evaluations/${EVAL_2}/report.json`, movedAt: "2026-11-22T17:56:00.000Z" },
      { id: 2, alias: "prod", modelId: MODEL_1, previousModelId: null, actor: "policy", reason: "first model: no champion", evaluationId: EVAL_1, reportUri: `gs://mlops-models/evaluations/${EVAL_1}/report.json`, movedAt: "2026-11-21T10:19:00.000Z" },
      { id: 1, alias: "staging", modelId: MODEL_1, previousModelId: null, actor: "policy", reason: "first model: no champion", evaluationId: EVAL_1, reportUri: `gs://mlops-models/evaluations/${EVAL_1}/report.json`, movedAt: "2026-11-21T10:19:00.000Z" },
    ],
    pendingReviews: [
      { decisionId: "dec_01JD7Q", evaluationId: EVAL_2, modelId: MODEL_2, alias: "prod", reasons: ["policy requires approval for prod", "candidate adds no classes; thin_cloud IoU −0.012 (within 0.05)"], createdAt: "2026-11-22T17:56:00.000Z" },
    ],
    failures: [
      { kind: "item", id: "itm_01JD9C4", reason: "corrupt_zip: S2B_MSIL2A_20261123T101309_N0511_R022_T31UFU.zip holds no GeoTIFF", at: "2026-11-23T13:48:00.000Z", attempts: 1 },
      { kind: "item", id: "itm_01JD9B7", reason: "band_count: expected 4 bands (blue, green, red, nir), found 3 in scene_0193.tif", at: "2026-11-23T12:02:00.000Z", attempts: 1 },
      { kind: "dead_letter", id: "msg_5f2c9e", reason: "item.normalised older than 24 h after 12 attempts: annotation backend returned 503", at: "2026-11-23T09:30:00.000Z", attempts: 12 },
      { kind: "training", id: "run_01JD7A", reason: "trainer exited with code 1: CUDA out of memory (tried to allocate 2.00 GiB)", at: "2026-11-22T16:31:00.000Z", attempts: 1 },
    ],
    notifications: [
      { severity: "warning", title: "Review needed: cloudmask-v2 → prod", text: "mIoU 0.8123 vs 0.7641 (+0.0482). Approve with `mlops command approve " + EVAL_2 + "`.", at: "2026-11-22T17:56:00.000Z" },
      { severity: "error", title: "Training run failed", text: "run_01JD7A on dataset v2: CUDA out of memory; retried as attempt 2.", at: "2026-11-22T16:31:00.000Z" },
      { severity: "info", title: "Promoted cloudmask-v1 to staging and prod", text: "First model of line default (mIoU 0.7641).", at: "2026-11-21T10:19:00.000Z" },
    ],
    duplicates: [
      { id: "it_9c1d7e4a2b3f5a6c8d0e", sourceName: "uploads/2026-11-23/S2B_MSIL2A_20261121T101309_copy.zip", productName: "S2B_MSIL2A_20261121T101309_copy", duplicateOf: "it_3f9a1c2e7b4d5a6f8e9d", originalTitle: "S2B_MSIL2A_20261121T101309", at: "2026-11-23T13:52:00.000Z" },
      { id: "it_0b8e2f6d4c1a3e5f7a9b", sourceName: "uploads/scene_0042 (1).png", productName: "scene_0042 (1)", duplicateOf: "it_5e7c9a1b3d2f4e6a8c0b", originalTitle: "scene_0042", at: "2026-11-23T11:20:00.000Z" },
    ],
    itemWarnings: [
      { id: "it_7d2a4c6e8f0b1d3f5a7c", title: "S2A_MSIL1C_20261122T103021", state: "registered", warnings: ["single_value: every valid pixel of band 4 is 0"], at: "2026-11-23T12:40:00.000Z" },
    ],
  };
}

/** A snapshot of a fresh installation: nothing uploaded, nothing trained. */
export function emptyStatusSnapshot(generatedAt = GENERATED_AT): StatusSnapshot {
  const zeros = Object.fromEntries(ITEM_STATES.map((s) => [s, 0])) as Record<ItemState, number>;
  return {
    generatedAt,
    itemsByState: { ...zeros },
    funnel: { ...zeros },
    itemsTotal: 0,
    throughput: [],
    throughputBucketMinutes: 60,
    datasetVersions: [],
    trainingRuns: [],
    evaluations: [],
    leaderboard: [],
    aliases: [],
    aliasHistory: [],
    pendingReviews: [],
    failures: [],
    notifications: [],
    duplicates: [],
    itemWarnings: [],
  };
}
