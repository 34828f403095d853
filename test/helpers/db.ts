import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { createPgDb } from "../../shared/adapters/db/pg.ts";
import { wrapPglite } from "../../shared/adapters/db/pglite.ts";
import { migrate } from "../../shared/db/migrate.ts";
import { loadMigrations } from "../../shared/db/migrations.ts";
import type { Db } from "../../shared/ports.ts";

export const testDbKind: "pg" | "pglite" = process.env.DATABASE_URL ? "pg" : "pglite";

/**
 * A migrated, isolated database for one test: a fresh schema on the real Postgres named by
 * DATABASE_URL, or an in-memory PGlite otherwise. `close()` drops the schema.
 *
 * PGlite's initdb takes seconds, so the migrated data directory is dumped once into the temp
 * folder (keyed by the migrations' hash) and every test database starts from that dump.
 */
export async function createTestDb(): Promise<Db> {
  const url = process.env.DATABASE_URL;
  if (!url) return wrapPglite(await pgliteFromTemplate());
  const schema = `t_${randomBytes(6).toString("hex")}`;
  const admin = createPgDb({ connectionString: url, max: 1 });
  await admin.exec(`CREATE SCHEMA ${schema}`);
  const db = createPgDb({ connectionString: url, schema, max: 5 });
  await migrate(db, loadMigrations());
  return {
    ...db,
    async close() {
      await db.close();
      await admin.exec(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
      await admin.close();
    },
  };
}

async function pgliteFromTemplate(): Promise<PGlite> {
  const migrations = loadMigrations();
  const hash = createHash("sha256").update(JSON.stringify(migrations)).digest("hex").slice(0, 16);
  const file = join(tmpdir(), `mlops-pglite-template-${hash}.tar`);
  if (!existsSync(file)) {
    const fresh = new PGlite();
    await migrate(wrapPglite(fresh), migrations);
    const dump = await fresh.dumpDataDir("none");
    await fresh.close();
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
    renameSync(tmp, file);
  }
  const pglite = new PGlite({ loadDataDir: new Blob([readFileSync(file)]) });
  await pglite.waitReady;
  return pglite;
}
