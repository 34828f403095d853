import type { Db } from "../ports.ts";

export interface Migration {
  /** File stem, e.g. `0001_init`. Applied in lexical order; never edit an applied file. */
  id: string;
  sql: string;
}

/**
 * The database and the code disagree about the schema: applying anything would make it worse.
 * Thrown before any migration runs; the message says which ids and what to do.
 */
export class MigrationMismatchError extends Error {
  override readonly name = "MigrationMismatchError";
  constructor(
    message: string,
    readonly unknown: readonly string[],
    readonly outOfOrder: readonly string[],
  ) {
    super(message);
  }
}

/**
 * Refuses a database that this code cannot safely run against or migrate:
 *
 * - an applied migration the code does not ship (a newer release, or another branch, migrated it):
 *   this code would read and write a schema it does not know;
 * - a shipped migration that is not applied while a later one is (it would run out of order, after
 *   migrations that were written assuming it had not run).
 *
 * Like Flyway's default `validate`, this is a hard stop, not a warning: the fix is to deploy the
 * code that matches the database, never to edit `schema_migrations` by hand.
 */
export function checkMigrationHistory(appliedIds: readonly string[], shipped: readonly Migration[]): void {
  const known = new Set(shipped.map((m) => m.id));
  const applied = new Set(appliedIds);
  const unknown = [...applied].filter((id) => !known.has(id)).sort();
  const latestApplied = [...applied].filter((id) => known.has(id)).sort().at(-1);
  const outOfOrder = latestApplied === undefined ? [] : shipped.map((m) => m.id).filter((id) => !applied.has(id) && id < latestApplied).sort();
  if (unknown.length === 0 && outOfOrder.length === 0) return;
  const latestShipped = [...known].sort().at(-1) ?? "(none)";
  const parts: string[] = [];
  if (unknown.length > 0) {
    const newer = unknown.filter((id) => id > latestShipped);
    parts.push(
      `the database has ${unknown.length} migration(s) this code does not ship: ${unknown.join(", ")}` +
        (newer.length === unknown.length ? ` (newer than this code's latest, ${latestShipped}): it was migrated by a newer release; run that release or a later one` : `: it was migrated by code from another branch or release; run the code that ships them`),
    );
  }
  if (outOfOrder.length > 0) {
    parts.push(`migration(s) ${outOfOrder.join(", ")} would apply after ${latestApplied} already ran (out of order); renumber them after ${latestApplied} in the code`);
  }
  throw new MigrationMismatchError(`refusing to use this database: ${parts.join("; ")}. Never edit schema_migrations by hand.`, unknown, outOfOrder);
}

/**
 * Applies pending migrations, one transaction each, recording ids in `schema_migrations`.
 * An advisory lock keeps two processes (two cold starts) from migrating at once. A database whose
 * history does not match the shipped migrations is refused first (see checkMigrationHistory).
 */
export async function migrate(db: Db, migrations: readonly Migration[]): Promise<string[]> {
  const applied: string[] = [];
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
  const sorted = [...migrations].sort((a, b) => a.id.localeCompare(b.id));
  const history = await db.query<{ id: string }>("SELECT id FROM schema_migrations");
  checkMigrationHistory(history.rows.map((r) => r.id), sorted);
  for (const m of sorted) {
    const done = await db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock(727274)");
      const exists = await tx.query("SELECT 1 FROM schema_migrations WHERE id = $1", [m.id]);
      if (exists.rowCount > 0) return false;
      await tx.exec(m.sql);
      await tx.query("INSERT INTO schema_migrations (id) VALUES ($1)", [m.id]);
      return true;
    });
    if (done) applied.push(m.id);
  }
  return applied;
}
