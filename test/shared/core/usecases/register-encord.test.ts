import { afterEach, describe, expect, it } from "vitest";
import { registerPending } from "../../../../shared/core/usecases/register.ts";
import { startEncordHarness, type EncordHarness } from "../../../fakes/encord-harness.ts";
import { seedItem } from "../../../functions/seed.ts";
import { createTestDeps, type TestDeps } from "../../../helpers/deps.ts";
import { testDbKind } from "../../../helpers/db.ts";

/**
 * The register use case on the Encord backend (wire-level fake) with the database's job ledger: an
 * upload job that runs longer than a registration waits is resumed by the next registration, never
 * started twice.
 */
describe(`register on Encord: upload jobs kept in the database (${testDbKind})`, () => {
  let t: TestDeps | undefined;
  let h: EncordHarness | undefined;
  afterEach(async () => {
    await t?.close();
    await h?.close();
    t = h = undefined;
  });

  const itemStates = async (deps: TestDeps) =>
    (await deps.db.query<{ id: string; state: string; backend_ref: string | null }>(`SELECT id, state, backend_ref FROM items ORDER BY id`)).rows;

  it("resumes an upload job that outlived the wait; Encord ends up with exactly one job", async () => {
    h = await startEncordHarness();
    // A function's wait is bounded; this job takes longer than any one wait.
    t = await createTestDeps({ backend: h.backend({ uploadJobMaxWaitMs: 0 }) });
    for (const id of ["it_a", "it_b", "it_c"]) await seedItem(t.db, { id, state: "normalised", productName: `p-${id}`, width: 8, height: 8 });
    h.fake.holdUploadJobs();

    const first = await registerPending(null, t.deps);
    expect(first).toMatchObject({ status: "done", detail: "0 registered, 0 failed" });
    expect((await itemStates(t)).map((r) => r.state)).toEqual(["normalised", "normalised", "normalised"]);
    const [jobId] = [...h.fake.state.uploadJobs.keys()];
    const jobs = await t.db.query<{ job_id: string; state: string; item_ids: string[] }>(`SELECT job_id, state, item_ids FROM registration_jobs`);
    expect(jobs.rows.map((r) => ({ ...r, item_ids: [...r.item_ids].sort() }))).toEqual([{ job_id: jobId, state: "started", item_ids: ["it_a", "it_b", "it_c"] }]);

    // A retry while the job still runs waits on it again instead of starting another.
    await registerPending(null, t.deps);
    expect(h.fake.state.uploadJobs.size).toBe(1);

    // The job finishes on Encord's side; the next registration (here: what reconcile's nudge
    // triggers) takes its results.
    h.fake.settleUploadJobs();
    const last = await registerPending(null, t.deps);
    expect(last).toMatchObject({ status: "done", detail: "3 registered, 0 failed" });

    expect(h.fake.state.uploadJobs.size).toBe(1);
    expect(h.fake.state.counters.uploadJobsStarted).toBe(1);
    expect(h.fake.duplicateUrls()).toEqual([]);
    const states = await itemStates(t);
    expect(states.map((r) => r.state)).toEqual(["registered", "registered", "registered"]);
    expect(new Set(states.map((r) => r.backend_ref))).toEqual(new Set(h.fake.state.uploadJobs.get(jobId!)!.itemsWithNames.map((i) => i.itemUuid)));
    expect((await t.db.query(`SELECT state FROM registration_jobs`)).rows).toEqual([{ state: "settled" }]);
    expect((await t.db.query(`SELECT 1 FROM registration_job_items`)).rowCount).toBe(0);
  });
});
