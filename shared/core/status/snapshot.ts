import type { DriftStatus } from "../usecases/drift.ts";
/**
 * Everything the dashboard and `mlops status` show, read from Postgres in one go
 * (`readStatusSnapshot` in shared/db/queries/status.ts). Plain data, JSON-serialisable.
 */
export const ITEM_STATES = ["seen", "normalised", "registered", "annotated", "accepted", "rejected", "in_dataset", "failed", "duplicate"] as const;
export type ItemState = (typeof ITEM_STATES)[number];

export interface StatusSnapshot {
  generatedAt: string;
  /** Items currently in each state. */
  itemsByState: Record<ItemState, number>;
  /** Items that ever reached each state (the funnel from upload to dataset). */
  funnel: Record<ItemState, number>;
  itemsTotal: number;
  /** Labels received per time bucket (newest last), split by verdict. */
  throughput: { bucketStart: string; accepted: number; rejected: number }[];
  throughputBucketMinutes: number;
  datasetVersions: {
    id: string;
    line: string;
    seq: number;
    itemCount: number;
    trainCount: number;
    evalCount: number;
    freshCount: number;
    trigger: string;
    manifestUri: string;
    createdAt: string;
  }[];
  trainingRuns: {
    id: string;
    line: string;
    datasetVersionId: string;
    datasetSeq: number | null;
    state: "launching" | "running" | "succeeded" | "failed" | "cancelled";
    attempt: number;
    executionName: string | null;
    modelId: string | null;
    error: string | null;
    createdAt: string;
    finishedAt: string | null;
  }[];
  evaluations: {
    id: string;
    candidateModelId: string;
    championModelId: string | null;
    state: "launching" | "running" | "succeeded" | "failed";
    primaryMetric: string | null;
    candidateValue: number | null;
    championValue: number | null;
    reportUri: string | null;
    summaryUri: string | null;
    decision: string | null;
    error: string | null;
    createdAt: string;
  }[];
  /** Batch predictions (`mlops command predict`), newest first (absent in snapshots from before them). */
  predictionRuns?: {
    id: string;
    alias: string;
    modelId: string;
    sourcePrefix: string;
    outputPrefix: string;
    state: "launching" | "running" | "succeeded" | "failed";
    attempt: number;
    ok: number | null;
    failed: number | null;
    summaryUri: string | null;
    error: string | null;
    createdAt: string;
    finishedAt: string | null;
  }[];
  /** Models ranked by their primary metric on their own evaluation (best first). */
  leaderboard: {
    modelId: string;
    name: string;
    task: string;
    datasetSeq: number | null;
    metric: string | null;
    value: number | null;
    aliases: string[];
    createdAt: string;
  }[];
  /** Current holder of each alias. */
  aliases: { alias: string; modelId: string; movedAt: string }[];
  aliasHistory: {
    id: number;
    alias: string;
    modelId: string;
    previousModelId: string | null;
    actor: string;
    reason: string;
    evaluationId: string | null;
    reportUri: string | null;
    movedAt: string;
  }[];
  /** Promotion decisions waiting for `approve` / `reject`. */
  pendingReviews: { decisionId: string; evaluationId: string; modelId: string; alias: string; reasons: string[]; createdAt: string }[];
  failures: {
    kind: "item" | "training" | "evaluation" | "prediction" | "dead_letter";
    id: string;
    reason: string;
    at: string;
    attempts: number | null;
  }[];
  notifications: { severity: string; title: string; text: string; at: string }[];
  /** Uploads whose bytes equal a live item's (state `duplicate`): no annotation task of their own. */
  duplicates: { id: string; sourceName: string; productName: string | null; duplicateOf: string; originalTitle: string | null; at: string }[];
  /** Items the normaliser accepted but flagged (e.g. an image whose valid pixels all share one value). */
  itemWarnings: { id: string; title: string | null; state: ItemState; warnings: string[]; at: string }[];
  /** The latest input drift check (absent before the first; see shared/core/usecases/drift.ts). */
  drift?: DriftStatus | null;
}
