import { afterEach, describe, expect, it } from "vitest";
import { MigrationMismatchError, checkMigrationHistory, migrate } from "../../../shared/db/migrate.ts";
import { loadMigrations } from "../../../shared/db/migrations.ts";
import type { Db } from "../../../shared/ports.ts";
import { createTestDb, testDbKind } from "../../helpers/db.ts";

describe(`migrations (${testDbKind})`, () => {
  let db: Db;
  afterEach(async () => db?.close());

  it("applies every migration once and is a no-op the second time", async () => {
    db = await createTestDb();
    const again = await migrate(db, loadMigrations());
    expect(again).toEqual([]);
    const { rows } = await db.query<{ id: string }>("SELECT id FROM schema_migrations ORDER BY id");
    expect(rows.map((r) => r.id)).toEqual(loadMigrations().map((m) => m.id));
  });

  it("refuses a database migrated by newer code, naming the unknown migration, and changes nothing", async () => {
    db = await createTestDb();
    await db.query(`INSERT INTO schema_migrations (id) VALUES ('9999_from_the_future')`);
    const error = await migrate(db, loadMigrations()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationMismatchError);
    expect(String(error)).toMatch(/9999_from_the_future.*newer release/);
    const { rows } = await db.query<{ id: string }>("SELECT id FROM schema_migrations ORDER BY id");
    expect(rows.map((r) => r.id)).toEqual([...loadMigrations().map((m) => m.id), "9999_from_the_future"]);
  });

  it("refuses a migration that would run out of order, and one from another branch", async () => {
    db = await createTestDb();
    const shipped = loadMigrations();
    const extra = { id: "0002_late_arrival", sql: "CREATE TABLE late_arrival (id int)" };
    const error = await migrate(db, [...shipped, extra]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationMismatchError);
    expect((error as MigrationMismatchError).outOfOrder).toEqual(["0002_late_arrival"]);
    expect((await db.query(`SELECT to_regclass('late_arrival') AS t`)).rows[0]).toEqual({ t: null });
    // A branch's migration that sorts between shipped ones is unknown, not "newer".
    expect(() => checkMigrationHistory(["0001_init", "0002_branch"], [{ id: "0001_init", sql: "" }, { id: "0003_x", sql: "" }]))
      .toThrow(/another branch/);
    expect(() => checkMigrationHistory(["0001_init"], [{ id: "0001_init", sql: "" }, { id: "0003_x", sql: "" }])).not.toThrow();
  });

  it("keeps alias history append-only", async () => {
    db = await createTestDb();
    await db.query(
      `INSERT INTO items (id, source_bucket, source_name, source_generation) VALUES ('i1','b','n','1')`,
    );
    await db.query(`INSERT INTO dataset_versions (id, line, seq, manifest_uri, item_count, train_count, eval_count, fresh_count, classes, trigger)
                    VALUES ('v1','default',1,'gs://d/m.json',1,1,0,1,'[]','threshold')`);
    await db.query(`INSERT INTO models (id, name, task, uri, card) VALUES ('m1','m','segmentation','gs://m/1','{}')`);
    await db.query(`INSERT INTO alias_moves (alias, model_id, actor, reason, cause_id) VALUES ('staging','m1','policy','first','c1')`);
    await expect(db.query(`UPDATE alias_moves SET reason = 'x'`)).rejects.toThrow(/append-only/);
    await expect(db.query(`DELETE FROM alias_moves`)).rejects.toThrow(/append-only/);
  });

  it("allows only one training run in flight per dataset line", async () => {
    db = await createTestDb();
    for (const v of ["v1", "v2"]) {
      await db.query(`INSERT INTO dataset_versions (id, line, seq, manifest_uri, item_count, train_count, eval_count, fresh_count, classes, trigger)
                      VALUES ($1,'default',$2,'gs://d/m.json',1,1,0,1,'[]','threshold')`, [v, v === "v1" ? 1 : 2]);
    }
    await db.query(`INSERT INTO training_runs (id, line, dataset_version_id, state, output_prefix) VALUES ('r1','default','v1','running','gs://m/r1/')`);
    await expect(
      db.query(`INSERT INTO training_runs (id, line, dataset_version_id, state, output_prefix) VALUES ('r2','default','v2','launching','gs://m/r2/')`),
    ).rejects.toThrow(/unique|duplicate/i);
    await db.query(`UPDATE training_runs SET state = 'succeeded' WHERE id = 'r1'`);
    await db.query(`INSERT INTO training_runs (id, line, dataset_version_id, state, output_prefix) VALUES ('r2','default','v2','launching','gs://m/r2/')`);
  });
});
