import type { Queryable } from "../../ports.ts";

export type EvaluationState = "launching" | "running" | "succeeded" | "failed";

export interface EvaluationRow {
  id: string;
  candidate_model_id: string;
  champion_model_id: string | null;
  dataset_version_id: string;
  state: EvaluationState;
  execution_name: string | null;
  attempt: number;
  report_uri: string | null;
  summary_uri: string | null;
  metrics: Record<string, unknown> | null;
  error: string | null;
  /** Transient launch failures since the last successful launch (migration 0010). */
  launch_failures: number;
  /** Reconcile launches the evaluation again only after this. */
  next_launch_at: Date | null;
  created_at: Date;
  finished_at: Date | null;
  updated_at: Date;
}

/** Creates the evaluation of a candidate on a dataset version once; returns the row either way. */
export async function insertEvaluationIfAbsent(
  db: Queryable,
  e: { id: string; candidateModelId: string; championModelId: string | null; datasetVersionId: string },
): Promise<{ row: EvaluationRow; created: boolean }> {
  const inserted = await db.query<EvaluationRow>(
    `INSERT INTO evaluations (id, candidate_model_id, champion_model_id, dataset_version_id, state)
     VALUES ($1, $2, $3, $4, 'launching') ON CONFLICT (candidate_model_id, dataset_version_id) DO NOTHING RETURNING *`,
    [e.id, e.candidateModelId, e.championModelId, e.datasetVersionId],
  );
  if (inserted.rows[0]) return { row: inserted.rows[0], created: true };
  const { rows } = await db.query<EvaluationRow>(
    `SELECT * FROM evaluations WHERE candidate_model_id = $1 AND dataset_version_id = $2`,
    [e.candidateModelId, e.datasetVersionId],
  );
  if (!rows[0]) throw new Error("evaluation vanished after a conflicting insert");
  return { row: rows[0], created: false };
}

export async function getEvaluation(db: Queryable, id: string): Promise<EvaluationRow | null> {
  const { rows } = await db.query<EvaluationRow>(`SELECT * FROM evaluations WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

export async function markEvaluationLaunched(db: Queryable, id: string, executionName: string): Promise<EvaluationRow | null> {
  const { rows } = await db.query<EvaluationRow>(
    `UPDATE evaluations SET state = 'running', execution_name = $2, launch_failures = 0, next_launch_at = NULL, updated_at = now()
     WHERE id = $1 AND state = 'launching' RETURNING *`,
    [id, executionName],
  );
  return rows[0] ?? null;
}

export async function markEvaluationSucceeded(
  db: Queryable,
  id: string,
  r: { reportUri: string; summaryUri: string; metrics: Record<string, unknown> },
): Promise<EvaluationRow | null> {
  const { rows } = await db.query<EvaluationRow>(
    `UPDATE evaluations SET state = 'succeeded', report_uri = $2, summary_uri = $3, metrics = $4, error = NULL, finished_at = now(), updated_at = now()
     WHERE id = $1 AND state IN ('launching', 'running', 'failed') RETURNING *`,
    [id, r.reportUri, r.summaryUri, JSON.stringify(r.metrics)],
  );
  return rows[0] ?? null;
}

export async function markEvaluationFailed(db: Queryable, id: string, error: string): Promise<EvaluationRow | null> {
  const { rows } = await db.query<EvaluationRow>(
    `UPDATE evaluations SET state = 'failed', error = $2, finished_at = now(), updated_at = now()
     WHERE id = $1 AND state IN ('launching', 'running') RETURNING *`,
    [id, error.slice(0, 2000)],
  );
  return rows[0] ?? null;
}

/**
 * Moves a row to its next attempt. `fromAttempt` guards against two deliveries (or reconcile
 * instances) judging the same ended attempt at once: only the first moves it; the other gets null
 * and must not launch.
 */
export async function markEvaluationRelaunching(db: Queryable, id: string, reason: string, fromAttempt: number): Promise<EvaluationRow | null> {
  const { rows } = await db.query<EvaluationRow>(
    `UPDATE evaluations SET state = 'launching', attempt = attempt + 1, execution_name = NULL, error = $2, updated_at = now(), launch_claim_until = NULL
     WHERE id = $1 AND state IN ('running', 'launching') AND attempt = $3 RETURNING *`,
    [id, reason.slice(0, 2000), fromAttempt],
  );
  return rows[0] ?? null;
}

/** Counts a transient launch failure and sets the back-off (see recordRunLaunchFailure). */
export async function recordEvaluationLaunchFailure(
  db: Queryable,
  id: string,
  error: string,
  backoff: { baseSeconds: number; capSeconds: number },
): Promise<EvaluationRow | null> {
  const { rows } = await db.query<EvaluationRow>(
    `UPDATE evaluations SET launch_failures = launch_failures + 1, error = $2, updated_at = now(), launch_claim_until = NULL,
       next_launch_at = now() + make_interval(secs => least($3::float8 * power(2, launch_failures), $4::float8))
     WHERE id = $1 AND state = 'launching' RETURNING *`,
    [id, error.slice(0, 2000), backoff.baseSeconds, backoff.capSeconds],
  );
  return rows[0] ?? null;
}

/** Evaluations waiting to be launched whose back-off (if any) has passed, oldest first. */
export async function launchableEvaluations(db: Queryable, olderThanSeconds: number): Promise<EvaluationRow[]> {
  const { rows } = await db.query<EvaluationRow>(
    `SELECT * FROM evaluations WHERE state = 'launching' AND updated_at < now() - make_interval(secs => $1)
       AND (next_launch_at IS NULL OR next_launch_at <= now()) ORDER BY created_at`,
    [olderThanSeconds],
  );
  return rows;
}

export async function evaluationsInStates(db: Queryable, states: readonly EvaluationState[], olderThanSeconds: number): Promise<EvaluationRow[]> {
  const { rows } = await db.query<EvaluationRow>(
    `SELECT * FROM evaluations WHERE state = ANY($1::text[]) AND updated_at < now() - make_interval(secs => $2) ORDER BY created_at`,
    [states, olderThanSeconds],
  );
  return rows;
}

export interface DecisionRow {
  id: string;
  evaluation_id: string | null;
  model_id: string;
  alias: string;
  outcome: "promote" | "refuse" | "review" | "approved" | "rejected";
  reasons: string[];
  checks: unknown[];
  actor: string;
  created_at: Date;
}

/** Records a decision; false when this evaluation already has one of the same kind for the alias. */
export async function insertDecision(
  db: Queryable,
  d: { id: string; evaluationId: string | null; modelId: string; alias: string; outcome: DecisionRow["outcome"]; reasons: string[]; checks: unknown[]; policy: unknown; actor: string },
): Promise<boolean> {
  const { rows } = await db.query(
    `INSERT INTO promotion_decisions (id, evaluation_id, model_id, alias, outcome, reasons, checks, policy, actor)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING 1 AS ok`,
    [d.id, d.evaluationId, d.modelId, d.alias, d.outcome, JSON.stringify(d.reasons), JSON.stringify(d.checks),
      d.policy === undefined ? null : JSON.stringify(d.policy), d.actor],
  );
  return rows.length > 0;
}

export async function decisionsOf(db: Queryable, evaluationId: string): Promise<DecisionRow[]> {
  const { rows } = await db.query<DecisionRow>(`SELECT * FROM promotion_decisions WHERE evaluation_id = $1 ORDER BY created_at`, [evaluationId]);
  return rows;
}

/**
 * Claims the launch of a row in `launching` for `seconds`: null when it is not launching or another
 * caller holds an unexpired claim (it is launching it right now). See migration 0012.
 */
export async function claimEvaluationLaunch(db: Queryable, id: string, seconds: number): Promise<EvaluationRow | null> {
  const { rows } = await db.query<EvaluationRow>(
    `UPDATE evaluations SET launch_claim_until = now() + make_interval(secs => $2)
     WHERE id = $1 AND state = 'launching' AND (launch_claim_until IS NULL OR launch_claim_until < now()) RETURNING *`,
    [id, seconds],
  );
  return rows[0] ?? null;
}
