import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPgDb } from "../../shared/adapters/db/pg.ts";
import type { Db } from "../../shared/ports.ts";
import { createUrlTestDb, type UrlTestDb } from "./db.ts";

let t: UrlTestDb;
let client: Db;
beforeAll(async () => {
  t = await createUrlTestDb();
  client = createPgDb({ connectionString: t.url, max: 3 });
});
afterAll(async () => {
  await client.close();
  await t.close();
});

describe("a database reachable by URL (PGlite over the wire, or a Postgres schema)", () => {
  it("serves the migrated schema to a pg pool, parameters and types included", async () => {
    const { rows } = await client.query<{ n: number; s: string; j: { a: number } }>(`SELECT $1::int AS n, $2::text AS s, '{"a":1}'::jsonb AS j`, [41, "x"]);
    expect(rows).toEqual([{ n: 41, s: "x", j: { a: 1 } }]);
    const migrated = await client.query<{ id: string }>(`SELECT id FROM schema_migrations ORDER BY id`);
    expect(migrated.rows.map((r) => r.id)).toContain("0001_init");
  });

  it("keeps concurrent transactions of a pool apart and sees what each committed", async () => {
    await client.exec(`CREATE TABLE wire_t (k text PRIMARY KEY, v int NOT NULL)`);
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        client.transaction(async (tx) => {
          await tx.query(`INSERT INTO wire_t (k, v) VALUES ($1, $2)`, [`k${i}`, i]);
          await tx.query(`UPDATE wire_t SET v = v + 10 WHERE k = $1`, [`k${i}`]);
        }),
      ),
    );
    const failed = client.transaction(async (tx) => {
      await tx.query(`INSERT INTO wire_t (k, v) VALUES ('gone', 1)`);
      throw new Error("roll back");
    });
    await expect(failed).rejects.toThrow("roll back");
    const { rows } = await t.db.query<{ k: string; v: number }>(`SELECT k, v FROM wire_t ORDER BY k`);
    expect(rows).toEqual(Array.from({ length: 6 }, (_, i) => ({ k: `k${i}`, v: i + 10 })));
    await expect(client.query(`SELECT * FROM no_such_table`)).rejects.toThrow(/no_such_table/);
    expect((await client.query<{ one: number }>(`SELECT 1 AS one`)).rows).toEqual([{ one: 1 }]);
  });
});
