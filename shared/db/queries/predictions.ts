import type { Queryable } from "../../ports.ts";

export type PredictionRunState = "launching" | "running" | "succeeded" | "failed";

/** A batch prediction (migration 0017). */
export interface PredictionRunRow {
  id: string;
  command_id: string;
  alias: string;
  model_id: string;
  source_prefix: string;
  output_prefix: string;
  state: PredictionRunState;
  attempt: number;
  execution_name: string | null;
  summary_uri: string | null;
  ok_count: number | null;
  failed_count: number | null;
  error: string | null;
  actor: string;
  launch_failures: number;
  next_launch_at: Date | null;
  created_at: Date;
  finished_at: Date | null;
  updated_at: Date;
}

/** Creates the run of a command once (a redelivered command gets the first one back). */
export async function insertPredictionRunIfAbsent(
  db: Queryable,
  r: { id: string; commandId: string; alias: string; modelId: string; sourcePrefix: string; outputPrefix: string; actor: string },
): Promise<{ row: PredictionRunRow; created: boolean }> {
  const inserted = await db.query<PredictionRunRow>(
    `INSERT INTO prediction_runs (id, command_id, alias, model_id, source_prefix, output_prefix, state, actor)
     VALUES ($1, $2, $3, $4, $5, $6, 'launching', $7) ON CONFLICT (command_id) DO NOTHING RETURNING *`,
    [r.id, r.commandId, r.alias, r.modelId, r.sourcePrefix, r.outputPrefix, r.actor],
  );
  if (inserted.rows[0]) return { row: inserted.rows[0], created: true };
  const { rows } = await db.query<PredictionRunRow>(`SELECT * FROM prediction_runs WHERE command_id = $1`, [r.commandId]);
  if (!rows[0]) throw new Error("prediction run vanished after a conflicting insert");
  return { row: rows[0], created: false };
}

export async function getPredictionRun(db: Queryable, id: string): Promise<PredictionRunRow | null> {
  const { rows } = await db.query<PredictionRunRow>(`SELECT * FROM prediction_runs WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/** Claims the launch for `seconds` (see migration 0012): null when another caller holds it. */
export async function claimPredictionLaunch(db: Queryable, id: string, seconds: number): Promise<PredictionRunRow | null> {
  const { rows } = await db.query<PredictionRunRow>(
    `UPDATE prediction_runs SET launch_claim_until = now() + make_interval(secs => $2)
     WHERE id = $1 AND state = 'launching' AND (launch_claim_until IS NULL OR launch_claim_until < now()) RETURNING *`,
    [id, seconds],
  );
  return rows[0] ?? null;
}

export async function markPredictionLaunched(db: Queryable, id: string, executionName: string): Promise<PredictionRunRow | null> {
  const { rows } = await db.query<PredictionRunRow>(
    `UPDATE prediction_runs SET state = 'running', execution_name = $2, launch_failures = 0, next_launch_at = NULL, updated_at = now()
     WHERE id = $1 AND state = 'launching' RETURNING *`,
    [id, executionName],
  );
  return rows[0] ?? null;
}

export async function markPredictionSucceeded(
  db: Queryable,
  id: string,
  r: { summaryUri: string; ok: number; failed: number },
): Promise<PredictionRunRow | null> {
  const { rows } = await db.query<PredictionRunRow>(
    `UPDATE prediction_runs SET state = 'succeeded', summary_uri = $2, ok_count = $3, failed_count = $4, error = NULL, finished_at = now(), updated_at = now()
     WHERE id = $1 AND state IN ('launching', 'running', 'failed') RETURNING *`,
    [id, r.summaryUri, r.ok, r.failed],
  );
  return rows[0] ?? null;
}

export async function markPredictionFailed(db: Queryable, id: string, error: string): Promise<PredictionRunRow | null> {
  const { rows } = await db.query<PredictionRunRow>(
    `UPDATE prediction_runs SET state = 'failed', error = $2, finished_at = now(), updated_at = now()
     WHERE id = $1 AND state IN ('launching', 'running') RETURNING *`,
    [id, error.slice(0, 2000)],
  );
  return rows[0] ?? null;
}

/** Next attempt of an ended execution; only the first of two concurrent judges moves it (see markEvaluationRelaunching). */
export async function markPredictionRelaunching(db: Queryable, id: string, reason: string, fromAttempt: number): Promise<PredictionRunRow | null> {
  const { rows } = await db.query<PredictionRunRow>(
    `UPDATE prediction_runs SET state = 'launching', attempt = attempt + 1, execution_name = NULL, error = $2, updated_at = now(), launch_claim_until = NULL
     WHERE id = $1 AND state IN ('running', 'launching') AND attempt = $3 RETURNING *`,
    [id, reason.slice(0, 2000), fromAttempt],
  );
  return rows[0] ?? null;
}

/** Counts a transient launch failure and sets the back-off (see recordRunLaunchFailure). */
export async function recordPredictionLaunchFailure(
  db: Queryable,
  id: string,
  error: string,
  backoff: { baseSeconds: number; capSeconds: number },
): Promise<PredictionRunRow | null> {
  const { rows } = await db.query<PredictionRunRow>(
    `UPDATE prediction_runs SET launch_failures = launch_failures + 1, error = $2, updated_at = now(), launch_claim_until = NULL,
       next_launch_at = now() + make_interval(secs => least($3::float8 * power(2, launch_failures), $4::float8))
     WHERE id = $1 AND state = 'launching' RETURNING *`,
    [id, error.slice(0, 2000), backoff.baseSeconds, backoff.capSeconds],
  );
  return rows[0] ?? null;
}

/** Runs waiting to be launched whose back-off has passed, oldest first. */
export async function launchablePredictionRuns(db: Queryable, olderThanSeconds: number): Promise<PredictionRunRow[]> {
  const { rows } = await db.query<PredictionRunRow>(
    `SELECT * FROM prediction_runs WHERE state = 'launching' AND updated_at < now() - make_interval(secs => $1)
       AND (next_launch_at IS NULL OR next_launch_at <= now()) ORDER BY created_at`,
    [olderThanSeconds],
  );
  return rows;
}

export async function predictionRunsInStates(db: Queryable, states: readonly PredictionRunState[], olderThanSeconds: number): Promise<PredictionRunRow[]> {
  const { rows } = await db.query<PredictionRunRow>(
    `SELECT * FROM prediction_runs WHERE state = ANY($1::text[]) AND updated_at < now() - make_interval(secs => $2) ORDER BY created_at`,
    [states, olderThanSeconds],
  );
  return rows;
}

/** The newest runs, for `mlops status`. */
export async function recentPredictionRuns(db: Queryable, limit: number): Promise<PredictionRunRow[]> {
  const { rows } = await db.query<PredictionRunRow>(`SELECT * FROM prediction_runs ORDER BY created_at DESC, id DESC LIMIT $1`, [limit]);
  return rows;
}
