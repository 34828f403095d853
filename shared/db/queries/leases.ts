import type { Queryable } from "../../ports.ts";

/**
 * The local runtime is the only process working its database (its dispatcher already re-delivers
 * every `inflight` delivery on start, for the same reason). So on start, every lease still held
 * belongs to a process that died — a crash or a kill in the middle of a poll, a registration or a
 * pre-label — or a launch, and is released now instead of blocking polling (cursor lease),
 * registration (item claims), pre-labelling or a job launch
 * until it expires. In the cloud, leases expire by themselves (several instances run at once).
 */
export async function releaseLeasesOfDeadProcesses(db: Queryable): Promise<{ cursors: number; items: number; launches: number; prelabels: number }> {
  const cursors = await db.query(`UPDATE annotation_cursors SET lease_until = NULL, lease_owner = NULL WHERE lease_owner IS NOT NULL RETURNING 1`);
  const items = await db.query(
    `UPDATE items SET register_claim_until = NULL, register_claim_token = NULL WHERE register_claim_token IS NOT NULL RETURNING 1`,
  );
  const launches = await db.query(
    `UPDATE training_runs SET launch_claim_until = NULL WHERE launch_claim_until IS NOT NULL RETURNING 1`,
  );
  const evaluationLaunches = await db.query(`UPDATE evaluations SET launch_claim_until = NULL WHERE launch_claim_until IS NOT NULL RETURNING 1`);
  // Pre-label claims: expired, so the next delivery or backfill takes the item over at once.
  const prelabels = await db.query(`UPDATE prelabels SET claim_until = now() - interval '1 second' WHERE state = 'claimed' AND claim_until >= now() RETURNING 1`);
  return { cursors: cursors.rowCount, items: items.rowCount, launches: launches.rowCount + evaluationLaunches.rowCount, prelabels: prelabels.rowCount };
}
