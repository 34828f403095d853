import type { Db, Queryable, RegistrationJobLedger, RegistrationJobRecord } from "../../ports.ts";

/**
 * Registration jobs of asynchronous backends (migration 0005). `registration_job_items` holds one
 * row per item of an open job, keyed by (backend, item): the claim is that primary key, so two
 * registrations claiming the same item in concurrent transactions cannot both get it.
 */

interface JobRow {
  id: string;
  job_id: string | null;
  item_ids: string[];
  detail: Record<string, unknown>;
  claimed_at: Date;
}

const toRecord = (r: JobRow): RegistrationJobRecord => ({ id: r.id, jobId: r.job_id, itemIds: r.item_ids, detail: r.detail, claimedAt: r.claimed_at.toISOString() });

export async function openRegistrationJobs(db: Queryable, backend: string, itemIds: readonly string[]): Promise<RegistrationJobRecord[]> {
  const { rows } = await db.query<JobRow>(
    `SELECT j.id, j.job_id, j.item_ids, j.detail, j.claimed_at FROM registration_jobs j
     WHERE j.backend = $1 AND j.state IN ('claimed', 'started')
       AND EXISTS (SELECT 1 FROM registration_job_items ji WHERE ji.job = j.id AND ji.item_id = ANY($2::text[]))
     ORDER BY j.claimed_at, j.id`,
    [backend, itemIds],
  );
  return rows.map(toRecord);
}

/** Claims what it can of `itemIds` for a new job `id`; null when every item is held. One transaction. */
export async function claimRegistrationJob(
  db: Db, input: { id: string; backend: string; itemIds: readonly string[]; detail: Record<string, unknown>; staleAfterSeconds: number },
): Promise<RegistrationJobRecord | null> {
  return db.transaction(async (tx) => {
    // A claim that never recorded a job id within the stale period belongs to a registration that
    // died between claiming and recording: its items are free again (skipDuplicateUrls and the
    // title lookup keep a job it may have started from creating anything twice).
    await tx.query(
      `UPDATE registration_jobs SET state = 'abandoned', outcome = 'claim went stale before a job id was recorded', settled_at = now()
       WHERE backend = $1 AND state = 'claimed' AND claimed_at < now() - make_interval(secs => $2)`,
      [input.backend, input.staleAfterSeconds],
    );
    await tx.query(
      `DELETE FROM registration_job_items ji USING registration_jobs j WHERE ji.job = j.id AND j.backend = $1 AND j.state = 'abandoned'`,
      [input.backend],
    );
    await tx.query(`INSERT INTO registration_jobs (id, backend, state, detail) VALUES ($1, $2, 'claimed', $3)`, [input.id, input.backend, JSON.stringify(input.detail)]);
    const { rows } = await tx.query<{ item_id: string }>(
      `INSERT INTO registration_job_items (backend, item_id, job) SELECT $1, unnest($2::text[]), $3
       ON CONFLICT DO NOTHING RETURNING item_id`,
      [input.backend, input.itemIds, input.id],
    );
    if (rows.length === 0) {
      await tx.query(`DELETE FROM registration_jobs WHERE id = $1`, [input.id]);
      return null;
    }
    const claimed = input.itemIds.filter((id) => rows.some((r) => r.item_id === id));
    const updated = await tx.query<JobRow>(
      `UPDATE registration_jobs SET item_ids = $2 WHERE id = $1 RETURNING id, job_id, item_ids, detail, claimed_at`,
      [input.id, JSON.stringify(claimed)],
    );
    return toRecord(updated.rows[0]!);
  });
}

export async function markRegistrationJobStarted(db: Queryable, id: string, jobId: string): Promise<void> {
  await db.query(`UPDATE registration_jobs SET job_id = $2, state = 'started', started_at = now() WHERE id = $1 AND state = 'claimed'`, [id, jobId]);
}

/** Ends a job (settled or abandoned) and frees its items, in one transaction. */
export async function closeRegistrationJob(db: Db, id: string, state: "settled" | "abandoned", outcome: string): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(`UPDATE registration_jobs SET state = $2, outcome = $3, settled_at = now() WHERE id = $1 AND state IN ('claimed', 'started')`, [id, state, outcome.slice(0, 2000)]);
    await tx.query(`DELETE FROM registration_job_items WHERE job = $1`, [id]);
  });
}

/** The database-backed ledger a backend's `register` gets from the register use case. */
export function registrationLedger(db: Db, backend: string, newId: () => string): RegistrationJobLedger {
  return {
    open: (itemIds) => openRegistrationJobs(db, backend, itemIds),
    claim: (itemIds, detail, staleAfterSeconds) => claimRegistrationJob(db, { id: newId(), backend, itemIds, detail, staleAfterSeconds }),
    started: (id, jobId) => markRegistrationJobStarted(db, id, jobId),
    settle: (id, outcome) => closeRegistrationJob(db, id, "settled", outcome),
    abandon: (id, reason) => closeRegistrationJob(db, id, "abandoned", reason),
  };
}
