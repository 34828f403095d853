import type { Queryable } from "../../ports.ts";

/**
 * Takes the poll lease of a backend's cursor. Returns the cursor, or undefined when another poll
 * holds an unexpired lease (two polls must not work the same page at once).
 */
export async function takeCursorLease(db: Queryable, backend: string, owner: string, leaseSeconds: number): Promise<{ cursor: string | null } | undefined> {
  await db.query(`INSERT INTO annotation_cursors (backend) VALUES ($1) ON CONFLICT DO NOTHING`, [backend]);
  const { rows } = await db.query<{ cursor: string | null }>(
    `UPDATE annotation_cursors SET lease_until = now() + make_interval(secs => $3), lease_owner = $2
     WHERE backend = $1 AND (lease_until IS NULL OR lease_until < now())
     RETURNING cursor`,
    [backend, owner, leaseSeconds],
  );
  return rows[0];
}

/** Advances the cursor (only after the batch was processed) and releases the lease. */
export async function releaseCursorLease(db: Queryable, backend: string, owner: string, cursor: string | null | undefined): Promise<void> {
  if (cursor === undefined) {
    await db.query(`UPDATE annotation_cursors SET lease_until = NULL, lease_owner = NULL WHERE backend = $1 AND lease_owner = $2`, [backend, owner]);
    return;
  }
  await db.query(
    `UPDATE annotation_cursors SET cursor = $3, lease_until = NULL, lease_owner = NULL, updated_at = now() WHERE backend = $1 AND lease_owner = $2`,
    [backend, owner, cursor],
  );
}
