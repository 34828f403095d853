import { afterEach, describe, expect, it } from "vitest";
import { reconcile } from "../../../../shared/core/usecases/reconcile.ts";
import { getTrainingRun } from "../../../../shared/db/queries/training.ts";
import { createTestDeps, type TestDeps } from "../../../helpers/deps.ts";
import { testDbKind } from "../../../helpers/db.ts";

describe(`reconcile (${testDbKind})`, () => {
  let t: TestDeps;
  afterEach(async () => t?.close());

  async function seedRun(id: string, state: "launching" | "running", executionName: string | null) {
    await t.db.query(`INSERT INTO dataset_versions (id, line, seq, manifest_uri, item_count, train_count, eval_count, fresh_count, classes, trigger)
                      VALUES ('v_${id}', 'line-${id}', 1, 'gs://datasets/m.json', 1, 1, 0, 1, '[]', 'test')`);
    await t.db.query(
      `INSERT INTO training_runs (id, line, dataset_version_id, state, execution_name, output_prefix, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, now() - interval '5 minutes')`,
      [id, `line-${id}`, `v_${id}`, state, executionName, `gs://models/line-${id}/runs/${id}/`],
    );
  }

  it("resumes a run whose execution hit its time limit, from the same output prefix", async () => {
    t = await createTestDeps({ env: { TRAIN_MAX_ATTEMPTS: "3" } });
    await seedRun("run_slow", "running", "exec-old");
    t.jobs.finish("exec-old", "failed", true);
    const outcome = await reconcile(null, t.deps);
    expect(outcome.detail).toMatch(/run run_slow: resumed \(execution hit its time limit\)/);
    expect(t.jobs.launches).toHaveLength(1);
    expect(t.jobs.launches[0]).toMatchObject({ job: "train", runId: "run_slow", env: { OUTPUT_PREFIX: "gs://models/line-run_slow/runs/run_slow/" } });
    expect(await getTrainingRun(t.db, "run_slow")).toMatchObject({ state: "running", attempt: 2, execution_name: t.jobs.launches[0]!.executionName });
  });

  it("gives up after the last attempt and alerts", async () => {
    t = await createTestDeps({ env: { TRAIN_MAX_ATTEMPTS: "1" } });
    await seedRun("run_dead", "running", "exec-1");
    t.jobs.finish("exec-1", "failed", true);
    await reconcile(null, t.deps);
    expect(await getTrainingRun(t.db, "run_dead")).toMatchObject({ state: "failed", error: "execution hit its time limit (gave up after 1 attempts)" });
    expect(t.jobs.launches).toHaveLength(0);
    expect(t.notifier.sent.map((n) => [n.severity, n.title])).toEqual([["alert", "Training run_dead failed"]]);
  });

  it("recovers a completion whose message was lost from the job's result.json", async () => {
    t = await createTestDeps();
    await seedRun("run_done", "running", "exec-2");
    t.jobs.finish("exec-2", "succeeded");
    const prefix = "gs://models/line-run_done/runs/run_done/";
    await t.store.put(`${prefix}result.json`, JSON.stringify({ runId: "run_done", modelUri: `${prefix}model.onnx`, cardUri: `${prefix}model.json`, completedAt: new Date().toISOString() }));
    await reconcile(null, t.deps);
    expect(t.publisher.ofType("training.completed").map((m) => [m.id, m.data])).toEqual([
      ["training.completed:run_done", { runId: "run_done", outputPrefix: prefix, modelUri: `${prefix}model.onnx`, cardUri: `${prefix}model.json`, selfReported: null }],
    ]);
  });

  it("launches a run that was claimed but never launched, and treats a lost execution as resumable", async () => {
    t = await createTestDeps();
    await seedRun("run_claimed", "launching", null);
    await seedRun("run_lost", "running", "exec-from-a-previous-runtime");
    const outcome = await reconcile(null, t.deps);
    expect(outcome.detail).toContain("run run_claimed launched");
    expect(outcome.detail).toContain("run run_lost: resumed (execution lost (the runtime has no record of it))");
    expect(t.jobs.launches.map((l) => l.runId).sort()).toEqual(["run_claimed", "run_lost"]);
  });

  it("retries uploads stuck in `seen` and nudges registration", async () => {
    t = await createTestDeps({ env: { STUCK_AFTER_SECONDS: "60" } });
    await t.db.query(`INSERT INTO items (id, source_bucket, source_name, source_generation, state, state_changed_at)
                      VALUES ('it_stuck', 'archive', 'a.zip', '7', 'seen', now() - interval '10 minutes'),
                             ('it_fresh', 'archive', 'b.zip', '8', 'seen', now()),
                             ('it_waiting', 'archive', 'c.zip', '9', 'normalised', now() - interval '5 minutes')`);
    await reconcile(null, t.deps);
    expect(t.publisher.ofType("object.finalized").map((m) => m.data)).toEqual([{ bucket: "archive", name: "a.zip", generation: "7", reprocess: true }]);
    expect(t.publisher.ofType("item.normalised").map((m) => m.data)).toEqual([{ itemId: "it_waiting" }]);
  });
});
