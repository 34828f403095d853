import { ITEM_STATES, type ItemState, type StatusSnapshot } from "../../core/status/snapshot.ts";
import type { Queryable } from "../../ports.ts";
import { driftStatusOf } from "../../core/usecases/drift.ts";
import { latestDriftCheck } from "./drift.ts";
import { recentPredictionRuns } from "./predictions.ts";

const iso = (d: Date | string | null | undefined): string => (d ? new Date(d).toISOString() : "");
const isoOrNull = (d: Date | string | null | undefined): string | null => (d ? new Date(d).toISOString() : null);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** Everything the dashboard and `mlops status` show, in a handful of queries. */
export async function readStatusSnapshot(
  db: Queryable,
  options: { now?: Date; throughputBuckets?: number; throughputBucketMinutes?: number; limit?: number } = {},
): Promise<StatusSnapshot> {
  const now = options.now ?? new Date();
  const limit = options.limit ?? 50;
  const bucketMinutes = options.throughputBucketMinutes ?? 1;
  const buckets = options.throughputBuckets ?? 30;

  // Counters kept by triggers in the same transaction as every item change (migration 0007).
  const counts = await db.query<{ state: ItemState; current: number; reached: number }>(
    `SELECT state, sum(current)::int AS current, sum(reached)::int AS reached FROM item_state_counts GROUP BY state`,
  );
  const itemsByState = zeroStates();
  const funnel = zeroStates();
  for (const r of counts.rows) {
    itemsByState[r.state] = r.current;
    funnel[r.state] = r.reached;
  }

  const since = new Date(Math.floor(now.getTime() / 60_000 / bucketMinutes) * bucketMinutes * 60_000 - (buckets - 1) * bucketMinutes * 60_000);
  const tp = await db.query<{ bucket: number; verdict: string; n: number }>(
    `SELECT floor(extract(epoch FROM received_at) / ($2 * 60))::int AS bucket, verdict, count(*)::int AS n
     FROM annotations WHERE received_at >= $1 GROUP BY 1, 2`,
    [since, bucketMinutes],
  );
  const throughput: StatusSnapshot["throughput"] = [];
  for (let i = 0; i < buckets; i++) {
    const start = new Date(since.getTime() + i * bucketMinutes * 60_000);
    const key = Math.floor(start.getTime() / 1000 / (bucketMinutes * 60));
    const rows = tp.rows.filter((r) => r.bucket === key);
    throughput.push({
      bucketStart: start.toISOString(),
      accepted: rows.find((r) => r.verdict === "accepted")?.n ?? 0,
      rejected: rows.find((r) => r.verdict === "rejected")?.n ?? 0,
    });
  }

  const versions = await db.query<Record<string, unknown>>(`SELECT * FROM dataset_versions ORDER BY created_at DESC LIMIT $1`, [limit]);
  const runs = await db.query<Record<string, unknown>>(
    `SELECT r.*, v.seq AS dataset_seq, m.id AS model_id FROM training_runs r
     LEFT JOIN dataset_versions v ON v.id = r.dataset_version_id LEFT JOIN models m ON m.training_run_id = r.id
     ORDER BY r.created_at DESC LIMIT $1`,
    [limit],
  );
  const evals = await db.query<Record<string, unknown>>(
    `SELECT e.*, (SELECT outcome FROM promotion_decisions d WHERE d.evaluation_id = e.id AND d.alias = 'staging' ORDER BY created_at LIMIT 1) AS decision
     FROM evaluations e ORDER BY e.created_at DESC LIMIT $1`,
    [limit],
  );
  const predictions = await recentPredictionRuns(db, limit);
  const current = await db.query<{ alias: string; model_id: string; moved_at: Date }>(
    `SELECT DISTINCT ON (alias) alias, model_id, moved_at FROM alias_moves ORDER BY alias, id DESC`,
  );
  const aliasesByModel = new Map<string, string[]>();
  for (const a of current.rows) aliasesByModel.set(a.model_id, [...(aliasesByModel.get(a.model_id) ?? []), a.alias]);

  const models = await db.query<Record<string, unknown>>(
    `SELECT m.id, m.name, m.task, m.created_at, v.seq AS dataset_seq,
       (SELECT e.metrics FROM evaluations e WHERE e.candidate_model_id = m.id AND e.state = 'succeeded' ORDER BY e.finished_at DESC LIMIT 1) AS metrics
     FROM models m LEFT JOIN dataset_versions v ON v.id = m.dataset_version_id ORDER BY m.created_at DESC LIMIT $1`,
    [limit],
  );
  const leaderboard = models.rows
    .map((m) => {
      const metrics = (m.metrics ?? {}) as Record<string, unknown>;
      return {
        modelId: String(m.id),
        name: String(m.name),
        task: String(m.task),
        datasetSeq: num(m.dataset_seq),
        metric: typeof metrics.primaryMetric === "string" ? metrics.primaryMetric : null,
        value: num(metrics.candidateValue),
        aliases: aliasesByModel.get(String(m.id)) ?? [],
        createdAt: iso(m.created_at as Date),
      };
    })
    .sort((a, b) => (b.value ?? -Infinity) - (a.value ?? -Infinity));

  const history = await db.query<Record<string, unknown>>(
    `SELECT a.*, d.evaluation_id, e.summary_uri FROM alias_moves a
     LEFT JOIN promotion_decisions d ON d.id = a.decision_id LEFT JOIN evaluations e ON e.id = d.evaluation_id
     ORDER BY a.id DESC LIMIT $1`,
    [limit],
  );
  const reviews = await db.query<Record<string, unknown>>(
    `SELECT d.* FROM promotion_decisions d WHERE d.outcome = 'review' AND NOT EXISTS (
       SELECT 1 FROM promotion_decisions r WHERE r.evaluation_id = d.evaluation_id AND r.alias = d.alias AND r.outcome IN ('approved', 'rejected'))
     ORDER BY d.created_at DESC`,
  );
  const failures = await listFailures(db, { limit });
  const notes = await db.query<Record<string, unknown>>(`SELECT * FROM notifications ORDER BY id DESC LIMIT 20`);
  const duplicates = await db.query<Record<string, unknown>>(
    `SELECT d.id, d.source_name, d.product_name, d.duplicate_of, o.title AS original_title, d.state_changed_at AS at
     FROM items d LEFT JOIN items o ON o.id = d.duplicate_of
     WHERE d.state = 'duplicate' ORDER BY d.state_changed_at DESC LIMIT $1`,
    [limit],
  );
  const warned = await db.query<Record<string, unknown>>(
    `SELECT id, title, state, warnings, updated_at AS at FROM items WHERE warnings <> '[]'::jsonb ORDER BY updated_at DESC LIMIT $1`,
    [limit],
  );

  const drift = await latestDriftCheck(db);

  return {
    drift: drift ? driftStatusOf(drift) : null,
    generatedAt: now.toISOString(),
    itemsByState,
    funnel,
    itemsTotal: Object.values(itemsByState).reduce((a, b) => a + b, 0),
    throughput,
    throughputBucketMinutes: bucketMinutes,
    datasetVersions: versions.rows.map((v) => ({
      id: String(v.id), line: String(v.line), seq: Number(v.seq), itemCount: Number(v.item_count), trainCount: Number(v.train_count),
      evalCount: Number(v.eval_count), freshCount: Number(v.fresh_count), trigger: String(v.trigger), manifestUri: String(v.manifest_uri), createdAt: iso(v.created_at as Date),
    })),
    trainingRuns: runs.rows.map((r) => ({
      id: String(r.id), line: String(r.line), datasetVersionId: String(r.dataset_version_id), datasetSeq: num(r.dataset_seq),
      state: r.state as StatusSnapshot["trainingRuns"][number]["state"], attempt: Number(r.attempt),
      executionName: (r.execution_name as string | null) ?? null, modelId: (r.model_id as string | null) ?? null,
      error: (r.error as string | null) ?? null, createdAt: iso(r.created_at as Date), finishedAt: isoOrNull(r.finished_at as Date | null),
    })),
    evaluations: evals.rows.map((e) => {
      const metrics = (e.metrics ?? {}) as Record<string, unknown>;
      return {
        id: String(e.id), candidateModelId: String(e.candidate_model_id), championModelId: (e.champion_model_id as string | null) ?? null,
        state: e.state as StatusSnapshot["evaluations"][number]["state"],
        primaryMetric: typeof metrics.primaryMetric === "string" ? metrics.primaryMetric : null,
        candidateValue: num(metrics.candidateValue), championValue: num(metrics.championValue),
        reportUri: (e.report_uri as string | null) ?? null, summaryUri: (e.summary_uri as string | null) ?? null,
        decision: (e.decision as string | null) ?? null, error: (e.error as string | null) ?? null, createdAt: iso(e.created_at as Date),
      };
    }),
    predictionRuns: predictions.map((p) => ({
      id: p.id, alias: p.alias, modelId: p.model_id, sourcePrefix: p.source_prefix, outputPrefix: p.output_prefix, state: p.state,
      attempt: p.attempt, ok: p.ok_count, failed: p.failed_count, summaryUri: p.summary_uri, error: p.error,
      createdAt: iso(p.created_at), finishedAt: isoOrNull(p.finished_at),
    })),
    leaderboard,
    aliases: current.rows.map((a) => ({ alias: a.alias, modelId: a.model_id, movedAt: iso(a.moved_at) })),
    aliasHistory: history.rows.map((h) => ({
      id: Number(h.id), alias: String(h.alias), modelId: String(h.model_id), previousModelId: (h.previous_model_id as string | null) ?? null,
      actor: String(h.actor), reason: String(h.reason), evaluationId: (h.evaluation_id as string | null) ?? null,
      reportUri: (h.summary_uri as string | null) ?? null, movedAt: iso(h.moved_at as Date),
    })),
    pendingReviews: reviews.rows.map((d) => ({
      decisionId: String(d.id), evaluationId: String(d.evaluation_id), modelId: String(d.model_id), alias: String(d.alias),
      reasons: (d.reasons as string[]) ?? [], createdAt: iso(d.created_at as Date),
    })),
    failures,
    notifications: notes.rows.map((n) => ({ severity: String(n.severity), title: String(n.title), text: String(n.text), at: iso(n.created_at as Date) })),
    duplicates: duplicates.rows.map((d) => ({
      id: String(d.id), sourceName: String(d.source_name), productName: (d.product_name as string | null) ?? null,
      duplicateOf: String(d.duplicate_of), originalTitle: (d.original_title as string | null) ?? null, at: iso(d.at as Date),
    })),
    itemWarnings: warned.rows.map((w) => ({
      id: String(w.id), title: (w.title as string | null) ?? null, state: w.state as ItemState,
      warnings: Array.isArray(w.warnings) ? w.warnings.map(String) : [], at: iso(w.at as Date),
    })),
  };
}

export type Failure = StatusSnapshot["failures"][number];

/**
 * Newest failures first (failed items, runs and evaluations, dead letters), `limit` at most, older
 * than `before` when given (keyset pagination: pass the last row's `at` and `id` for the next page).
 * Each branch reads at most `limit` rows through its index, whatever the history holds.
 */
export async function listFailures(db: Queryable, options: { limit: number; before?: { at: string; id: string } }): Promise<Failure[]> {
  const before = options.before ? [new Date(options.before.at), options.before.id] : [new Date("9999-12-31T00:00:00Z"), ""];
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT * FROM (
       (SELECT 'item' AS kind, id, coalesce(error, 'failed') AS reason, state_changed_at AS at, attempts FROM items
        WHERE state = 'failed' AND (state_changed_at, id) < ($2, $3) ORDER BY state_changed_at DESC, id DESC LIMIT $1)
       UNION ALL (SELECT 'training', id, coalesce(error, 'failed'), updated_at, attempt FROM training_runs
        WHERE state = 'failed' AND (updated_at, id) < ($2, $3) ORDER BY updated_at DESC, id DESC LIMIT $1)
       UNION ALL (SELECT 'evaluation', id, coalesce(error, 'failed'), updated_at, attempt FROM evaluations
        WHERE state = 'failed' AND (updated_at, id) < ($2, $3) ORDER BY updated_at DESC, id DESC LIMIT $1)
       UNION ALL (SELECT 'prediction', id, coalesce(error, 'failed'), updated_at, attempt FROM prediction_runs
        WHERE state = 'failed' AND (updated_at, id) < ($2, $3) ORDER BY updated_at DESC, id DESC LIMIT $1)
       UNION ALL (SELECT 'dead_letter', coalesce(message_id, id::text), consumer || ': ' || reason, created_at, NULL FROM dead_letters
        WHERE (created_at, coalesce(message_id, id::text)) < ($2, $3) ORDER BY created_at DESC, id DESC LIMIT $1)
     ) f ORDER BY at DESC, id DESC LIMIT $1`,
    [options.limit, ...before],
  );
  return rows.map((f) => ({
    kind: f.kind as Failure["kind"], id: String(f.id), reason: String(f.reason), at: iso(f.at as Date), attempts: num(f.attempts),
  }));
}

function zeroStates(): Record<ItemState, number> {
  return Object.fromEntries(ITEM_STATES.map((s) => [s, 0])) as Record<ItemState, number>;
}
