import type { Queryable } from "../../ports.ts";

export type RunState = "launching" | "running" | "succeeded" | "failed" | "cancelled";

export interface TrainingRunRow {
  id: string;
  line: string;
  dataset_version_id: string;
  state: RunState;
  attempt: number;
  execution_name: string | null;
  output_prefix: string;
  params: Record<string, unknown>;
  self_reported: Record<string, unknown> | null;
  error: string | null;
  /** Transient launch failures since the last successful launch (migration 0010). */
  launch_failures: number;
  /** Reconcile launches the run again only after this (back-off after a transient launch failure). */
  next_launch_at: Date | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

export async function insertTrainingRun(
  db: Queryable,
  run: { id: string; line: string; datasetVersionId: string; outputPrefix: string; params: Record<string, unknown> },
): Promise<void> {
  await db.query(
    `INSERT INTO training_runs (id, line, dataset_version_id, state, output_prefix, params) VALUES ($1, $2, $3, 'launching', $4, $5)`,
    [run.id, run.line, run.datasetVersionId, run.outputPrefix, JSON.stringify(run.params)],
  );
}

export async function getTrainingRun(db: Queryable, id: string): Promise<TrainingRunRow | null> {
  const { rows } = await db.query<TrainingRunRow>(`SELECT * FROM training_runs WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

export async function runInFlight(db: Queryable, line: string): Promise<TrainingRunRow | null> {
  const { rows } = await db.query<TrainingRunRow>(`SELECT * FROM training_runs WHERE line = $1 AND state IN ('launching', 'running')`, [line]);
  return rows[0] ?? null;
}

/** Stores the execution name first thing after a launch: a crash after this cannot lose the execution. */
export async function markRunLaunched(db: Queryable, id: string, executionName: string): Promise<TrainingRunRow | null> {
  const { rows } = await db.query<TrainingRunRow>(
    `UPDATE training_runs SET state = 'running', execution_name = $2, started_at = coalesce(started_at, now()),
       launch_failures = 0, next_launch_at = NULL, updated_at = now()
     WHERE id = $1 AND state = 'launching' RETURNING *`,
    [id, executionName],
  );
  return rows[0] ?? null;
}

export async function markRunSucceeded(db: Queryable, id: string, selfReported: Record<string, unknown> | null): Promise<TrainingRunRow | null> {
  const { rows } = await db.query<TrainingRunRow>(
    `UPDATE training_runs SET state = 'succeeded', self_reported = $2, error = NULL, finished_at = now(), updated_at = now()
     WHERE id = $1 AND state IN ('launching', 'running', 'failed') RETURNING *`,
    [id, selfReported ? JSON.stringify(selfReported) : null],
  );
  return rows[0] ?? null;
}

export async function markRunFailed(db: Queryable, id: string, error: string): Promise<TrainingRunRow | null> {
  const { rows } = await db.query<TrainingRunRow>(
    `UPDATE training_runs SET state = 'failed', error = $2, finished_at = now(), updated_at = now()
     WHERE id = $1 AND state IN ('launching', 'running') RETURNING *`,
    [id, error.slice(0, 2000)],
  );
  return rows[0] ?? null;
}

/** Puts a run back to `launching` for another attempt (resume after a timeout or a lost process). */
/**
 * Moves a row to its next attempt. `fromAttempt` guards against two deliveries (or reconcile
 * instances) judging the same ended attempt at once: only the first moves it; the other gets null
 * and must not launch.
 */
export async function markRunRelaunching(db: Queryable, id: string, reason: string, fromAttempt: number): Promise<TrainingRunRow | null> {
  const { rows } = await db.query<TrainingRunRow>(
    `UPDATE training_runs SET state = 'launching', attempt = attempt + 1, execution_name = NULL, error = $2, updated_at = now(), launch_claim_until = NULL
     WHERE id = $1 AND state IN ('running', 'launching') AND attempt = $3 RETURNING *`,
    [id, reason.slice(0, 2000), fromAttempt],
  );
  return rows[0] ?? null;
}

/**
 * Counts a transient launch failure and sets when reconcile may try again: `baseSeconds` doubled per
 * failure so far, at most `capSeconds`. The run stays `launching`.
 */
export async function recordRunLaunchFailure(
  db: Queryable,
  id: string,
  error: string,
  backoff: { baseSeconds: number; capSeconds: number },
): Promise<TrainingRunRow | null> {
  const { rows } = await db.query<TrainingRunRow>(
    `UPDATE training_runs SET launch_failures = launch_failures + 1, error = $2, updated_at = now(), launch_claim_until = NULL,
       next_launch_at = now() + make_interval(secs => least($3::float8 * power(2, launch_failures), $4::float8))
     WHERE id = $1 AND state = 'launching' RETURNING *`,
    [id, error.slice(0, 2000), backoff.baseSeconds, backoff.capSeconds],
  );
  return rows[0] ?? null;
}

/** Runs waiting to be launched whose back-off (if any) has passed, oldest first. */
export async function launchableRuns(db: Queryable, olderThanSeconds: number): Promise<TrainingRunRow[]> {
  const { rows } = await db.query<TrainingRunRow>(
    `SELECT * FROM training_runs WHERE state = 'launching' AND updated_at < now() - make_interval(secs => $1)
       AND (next_launch_at IS NULL OR next_launch_at <= now()) ORDER BY created_at`,
    [olderThanSeconds],
  );
  return rows;
}

export async function runsInStates(db: Queryable, states: readonly RunState[], olderThanSeconds: number): Promise<TrainingRunRow[]> {
  const { rows } = await db.query<TrainingRunRow>(
    `SELECT * FROM training_runs WHERE state = ANY($1::text[]) AND updated_at < now() - make_interval(secs => $2) ORDER BY created_at`,
    [states, olderThanSeconds],
  );
  return rows;
}

/**
 * Claims the launch of a row in `launching` for `seconds`: null when it is not launching or another
 * caller holds an unexpired claim (it is launching it right now). See migration 0012.
 */
export async function claimRunLaunch(db: Queryable, id: string, seconds: number): Promise<TrainingRunRow | null> {
  const { rows } = await db.query<TrainingRunRow>(
    `UPDATE training_runs SET launch_claim_until = now() + make_interval(secs => $2)
     WHERE id = $1 AND state = 'launching' AND (launch_claim_until IS NULL OR launch_claim_until < now()) RETURNING *`,
    [id, seconds],
  );
  return rows[0] ?? null;
}
