import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { createPgDb } from "../../shared/adapters/db/pg.ts";
import { wrapPglite } from "../../shared/adapters/db/pglite.ts";
import { migrate, type Migration } from "../../shared/db/migrate.ts";
import { loadMigrations } from "../../shared/db/migrations.ts";
import type { Db, Queryable } from "../../shared/ports.ts";
import { startPgliteServer } from "./pglite-server.ts";

export const testDbKind: "pg" | "pglite" = process.env.DATABASE_URL ? "pg" : "pglite";

/**
 * A migrated, isolated database for one test: a fresh schema on the real Postgres named by
 * DATABASE_URL, or a fresh schema in this test file's PGlite otherwise. `close()` drops it.
 * `migrations` (default: all) lets a migration test start from an older schema.
 */
export async function createTestDb(options: { migrations?: readonly Migration[] } = {}): Promise<Db> {
  const url = process.env.DATABASE_URL;
  const schema = `t_${randomBytes(6).toString("hex")}`;
  const migrations = options.migrations ?? loadMigrations();
  if (!url) return pgliteSchema(schema, migrations);
  const admin = createPgDb({ connectionString: url, max: 1 });
  await admin.exec(`CREATE SCHEMA ${schema}`);
  const db = createPgDb({ connectionString: url, schema, max: 5 });
  await migrate(db, migrations);
  return {
    ...db,
    async close() {
      await db.close();
      await admin.exec(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
      await admin.close();
    },
  };
}

/** A migrated, isolated database another process can reach by URL, and the test's own handle on it. */
export interface UrlTestDb {
  url: string;
  db: Db;
  close(): Promise<void>;
}

/**
 * Like `createTestDb`, for code that connects by itself (a built function bundle in a child
 * process): a fresh schema on DATABASE_URL's Postgres (the URL selects it with `search_path`), or
 * a PGlite of its own served over the wire protocol (./pglite-server.ts).
 */
export async function createUrlTestDb(): Promise<UrlTestDb> {
  const base = process.env.DATABASE_URL;
  if (base) {
    const schema = `u_${randomBytes(6).toString("hex")}`;
    const admin = createPgDb({ connectionString: base, max: 1 });
    await admin.exec(`CREATE SCHEMA ${schema}`);
    const db = createPgDb({ connectionString: base, schema, max: 3 });
    await migrate(db, loadMigrations());
    const url = new URL(base);
    url.searchParams.set("options", `-c search_path=${schema},public`);
    return {
      url: url.toString(),
      db,
      async close() {
        await db.close();
        await admin.exec(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
        await admin.close();
      },
    };
  }
  const pglite = new PGlite({ loadDataDir: new Blob([readFileSync(await emptyDump())]) });
  await pglite.waitReady;
  const db = wrapPglite(pglite);
  await migrate(db, loadMigrations());
  const server = await startPgliteServer(pglite);
  return {
    url: server.url,
    db,
    async close() {
      await server.close();
      await db.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// PGlite: starting an instance costs seconds (initdb), so each test file (one worker) starts one,
// from a dump of a migrated data directory cached in the temp folder, and every test gets its own
// schema in it. PGlite has one session, so each Db switches `search_path` to its schema before
// it talks to the database (PGlite runs one statement or transaction at a time, so a switch
// cannot interleave with another Db's work).

let shared: Promise<{ pglite: PGlite; current: { schema: string } }> | null = null;

async function pgliteSchema(schema: string, migrations: readonly Migration[]): Promise<Db> {
  shared ??= startShared();
  const { pglite, current } = await shared;
  const base = wrapPglite(pglite);
  const use = async () => {
    if (current.schema !== schema) {
      await pglite.exec(`SET search_path TO ${schema}, public`);
      current.schema = schema;
    }
  };
  await pglite.exec(`CREATE SCHEMA ${schema}`);
  await use();
  const db: Db = {
    kind: "pglite",
    async query(text, params) {
      await use();
      return base.query(text, params);
    },
    async exec(sql) {
      await use();
      return base.exec(sql);
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      await use();
      return base.transaction(fn);
    },
    async close() {
      await pglite.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
      if (current.schema === schema) current.schema = "";
    },
  };
  await migrate(db, migrations);
  return db;
}

/** A dump of an empty data directory, made once per PGlite version in the temp folder. */
async function emptyDump(): Promise<string> {
  const file = join(tmpdir(), `mlops-pglite-empty-${pgliteVersionKey()}.tar`);
  if (!existsSync(file)) {
    const fresh = new PGlite();
    await fresh.waitReady;
    const dump = await fresh.dumpDataDir("none");
    await fresh.close();
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
    renameSync(tmp, file);
  }
  return file;
}

async function startShared(): Promise<{ pglite: PGlite; current: { schema: string } }> {
  const pglite = new PGlite({ loadDataDir: new Blob([readFileSync(await emptyDump())]) });
  await pglite.waitReady;
  return { pglite, current: { schema: "" } };
}

function pgliteVersionKey(): string {
  const pkg = readFileSync(join(import.meta.dirname, "../../node_modules/@electric-sql/pglite/package.json"), "utf8");
  return createHash("sha256").update(pkg).digest("hex").slice(0, 12);
}
