import { afterEach, describe, expect, it } from "vitest";
import { registrationLedger } from "../../../shared/db/queries/registration-jobs.ts";
import type { Db } from "../../../shared/ports.ts";
import { seedItem } from "../../functions/seed.ts";
import { createTestDb, testDbKind } from "../../helpers/db.ts";

let db: Db | undefined;
afterEach(async () => {
  await db?.close();
  db = undefined;
});

let n = 0;
const newId = () => `rjob_${++n}`;

async function withItems(count: number): Promise<{ db: Db; ids: string[] }> {
  db = await createTestDb();
  const ids = Array.from({ length: count }, (_, i) => `it_${i}`);
  for (const id of ids) await seedItem(db, { id, state: "normalised", productName: id, width: 4, height: 4 });
  return { db, ids };
}

describe(`registration-job ledger (${testDbKind})`, () => {
  it("gives each item to one of two concurrent claims, never to both", async () => {
    const { db, ids } = await withItems(40);
    const ledger = registrationLedger(db, "encord", newId);
    // Overlapping batches, claimed at the same time (on Postgres: two connections).
    const [a, b] = await Promise.all([ledger.claim(ids.slice(0, 30), { folderUuid: "F" }, 600), ledger.claim(ids.slice(10), { folderUuid: "F" }, 600)]);
    const claimedA = new Set(a?.itemIds ?? []);
    const claimedB = new Set(b?.itemIds ?? []);
    expect([...claimedA].filter((id) => claimedB.has(id))).toEqual([]);
    expect(new Set([...claimedA, ...claimedB])).toEqual(new Set(ids));
  });

  it("records the job id, finds the open job by any of its items, and frees them when settled", async () => {
    const { db, ids } = await withItems(3);
    const ledger = registrationLedger(db, "encord", newId);
    const claim = (await ledger.claim(ids, { folderUuid: "F1" }, 600))!;
    expect(claim).toMatchObject({ jobId: null, itemIds: ids, detail: { folderUuid: "F1" } });
    await ledger.started(claim.id, "job-uuid-1");
    expect(await ledger.open([ids[2]!])).toEqual([{ ...claim, jobId: "job-uuid-1" }]);
    expect(await ledger.claim(ids, {}, 600)).toBeNull(); // held by the open job
    expect(await ledger.open(["it_other"])).toEqual([]);

    await ledger.settle(claim.id, "DONE: 3 registered");
    expect(await ledger.open(ids)).toEqual([]);
    const { rows } = await db.query<{ state: string; outcome: string; job_id: string }>(`SELECT state, outcome, job_id FROM registration_jobs WHERE id = $1`, [claim.id]);
    expect(rows).toEqual([{ state: "settled", outcome: "DONE: 3 registered", job_id: "job-uuid-1" }]);
    expect((await ledger.claim(ids, {}, 600))?.itemIds).toEqual(ids);
  });

  it("keeps one backend's claims apart from another's", async () => {
    const { db, ids } = await withItems(2);
    expect(await registrationLedger(db, "encord", newId).claim(ids, {}, 600)).not.toBeNull();
    expect((await registrationLedger(db, "other", newId).claim(ids, {}, 600))?.itemIds).toEqual(ids);
  });

  it("takes over a claim that never recorded a job id once it is stale, but never a started job", async () => {
    const { db, ids } = await withItems(2);
    const ledger = registrationLedger(db, "encord", newId);
    const dead = (await ledger.claim([ids[0]!], {}, 600))!;
    const running = (await ledger.claim([ids[1]!], {}, 600))!;
    await ledger.started(running.id, "job-2");
    await db.query(`UPDATE registration_jobs SET claimed_at = now() - interval '1 hour'`);

    const takeover = await ledger.claim(ids, {}, 600);
    expect(takeover?.itemIds).toEqual([ids[0]]);
    const states = await db.query<{ id: string; state: string }>(`SELECT id, state FROM registration_jobs WHERE id = ANY($1::text[]) ORDER BY id`, [[dead.id, running.id]]);
    expect(states.rows).toEqual([{ id: dead.id, state: "abandoned" }, { id: running.id, state: "started" }].sort((x, y) => x.id.localeCompare(y.id)));
  });

  it("frees an abandoned job's items", async () => {
    const { db, ids } = await withItems(1);
    const ledger = registrationLedger(db, "encord", newId);
    const claim = (await ledger.claim(ids, {}, 600))!;
    await ledger.abandon(claim.id, "Encord refused the job: HTTP 400");
    expect(await ledger.open(ids)).toEqual([]);
    expect(await ledger.claim(ids, {}, 600)).not.toBeNull();
  });
});
