import type { Db } from "../ports.ts";

export interface Migration {
  /** File stem, e.g. `0001_init`. Applied in lexical order; never edit an applied file. */
  id: string;
  sql: string;
}

/**
 * Applies pending migrations, one transaction each, recording ids in `schema_migrations`.
 * An advisory lock keeps two processes (two cold starts) from migrating at once.
 */
export async function migrate(db: Db, migrations: readonly Migration[]): Promise<string[]> {
  const applied: string[] = [];
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
  const sorted = [...migrations].sort((a, b) => a.id.localeCompare(b.id));
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
