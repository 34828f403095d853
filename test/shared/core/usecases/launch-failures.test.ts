import { afterEach, describe, expect, it } from "vitest";
import { CloudRunJobRunner } from "../../../../shared/adapters/gcp/cloud-run.ts";
import { LAUNCH_BACKOFF, LAUNCH_MAX_FAILURES } from "../../../../shared/core/jobs/executions.ts";
import { reconcile } from "../../../../shared/core/usecases/reconcile.ts";
import { launchEvaluation, launchTrainingRun } from "../../../../shared/core/usecases/training.ts";
import { getEvaluation } from "../../../../shared/db/queries/evaluations.ts";
import { getTrainingRun } from "../../../../shared/db/queries/training.ts";
import { FakeCloudRun } from "../../../fakes/cloud-run.ts";
import { testDbKind } from "../../../helpers/db.ts";
import { createTestDeps, type TestDeps } from "../../../helpers/deps.ts";

/**
 * Launch failures, through the real CloudRunJobRunner on the Cloud Run fake: a launch the platform
 * refuses for good fails the run at once with an alert naming the fix and is never tried again; a
 * transient one waits for reconcile with back-off, a bounded number of times.
 */
describe(`job launch failures (${testDbKind})`, () => {
  let t: TestDeps;
  let cloudRun: FakeCloudRun;
  afterEach(async () => t?.close());

  async function setup() {
    t = await createTestDeps();
    cloudRun = new FakeCloudRun();
    t.deps.jobs = new CloudRunJobRunner({
      project: "test-proj", region: "europe-west4", jobNames: { train: "train", evaluate: "evaluate", predict: "predict" }, api: cloudRun,
      principal: "serviceAccount:fn-threshold@test-proj.iam.gserviceaccount.com",
    });
    await t.db.query(`INSERT INTO dataset_versions (id, line, seq, manifest_uri, item_count, train_count, eval_count, fresh_count, classes, trigger)
                      VALUES ('dsv_l', 'default', 1, 'gs://datasets/default/v1/manifest.json', 1, 1, 0, 1, '[]', 'test')`);
  }

  async function seedRun(id: string) {
    await t.db.query(`INSERT INTO training_runs (id, line, dataset_version_id, state, output_prefix, updated_at)
                      VALUES ($1, 'default', 'dsv_l', 'launching', $2, now() - interval '5 minutes')`, [id, `gs://models/default/runs/${id}/`]);
  }

  async function notifications() {
    const { rows } = await t.db.query<{ severity: string; title: string; text: string }>(`SELECT severity, title, text FROM notifications ORDER BY id`);
    return rows;
  }

  it("fails a run whose launch is refused with PERMISSION_DENIED, alerts with the fix, and never launches it again", async () => {
    await setup();
    await seedRun("run_denied");
    cloudRun.failNext(7);
    expect(await launchTrainingRun("run_denied", t.deps)).toBe(false);

    const run = await getTrainingRun(t.db, "run_denied");
    expect(run?.state).toBe("failed");
    expect(run?.error).toMatch(/^launch refused: cloud_run_forbidden: permission denied running job train \(project test-proj, region europe-west4\): grant serviceAccount:fn-threshold@test-proj\.iam\.gserviceaccount\.com roles\/run\.jobsExecutorWithOverrides .* and roles\/run\.viewer on the job/);
    // The alert is recorded and posted, naming the fix.
    const posted = t.notifier.sent.filter((n) => n.severity === "alert");
    expect(posted.map((n) => n.title)).toEqual(["Training run_denied could not be launched"]);
    expect(posted[0]!.text).toContain("roles/run.jobsExecutorWithOverrides");
    expect(await notifications()).toEqual([{ severity: "alert", title: "Training run_denied could not be launched", text: posted[0]!.text }]);
    // The line is free again for the next run.
    expect(t.publisher.ofType("threshold.tick").map((m) => m.data)).toEqual([{ reason: "nudge", line: "default" }]);

    // reconcile does not try it again.
    await t.db.query(`UPDATE training_runs SET updated_at = now() - interval '1 hour' WHERE id = 'run_denied'`);
    await reconcile(null, t.deps);
    expect(cloudRun.launches).toEqual([]);
    expect(t.notifier.sent.filter((n) => n.severity === "alert")).toHaveLength(1);
  });

  it("names the job to deploy when it is NOT_FOUND, and the quota when GPU quota is exhausted", async () => {
    await setup();
    await seedRun("run_nojob");
    cloudRun.failNext(5);
    await launchTrainingRun("run_nojob", t.deps);
    expect((await getTrainingRun(t.db, "run_nojob"))?.error).toMatch(/job train \(project test-proj, region europe-west4\) not found: deploy the job train in europe-west4 .*or set TRAIN_JOB/);

    await t.db.query(`UPDATE dataset_versions SET line = 'other'`);
    await t.db.query(`INSERT INTO dataset_versions (id, line, seq, manifest_uri, item_count, train_count, eval_count, fresh_count, classes, trigger)
                      VALUES ('dsv_q', 'default', 2, 'gs://datasets/default/v2/manifest.json', 1, 1, 0, 1, '[]', 'test')`);
    await t.db.query(`INSERT INTO training_runs (id, line, dataset_version_id, state, output_prefix) VALUES ('run_quota', 'default', 'dsv_q', 'launching', 'gs://models/default/runs/run_quota/')`);
    // RESOURCE_EXHAUSTED with a google.rpc.QuotaFailure detail: a person must raise the quota.
    cloudRun.failNextWith({ code: 8, message: "RESOURCE_EXHAUSTED: Quota exceeded", statusDetails: [{ violations: [{ subject: "nvidia_l4_gpu_allocation_no_zonal_redundancy", description: "limit 0" }] }] });
    await launchTrainingRun("run_quota", t.deps);
    const quota = await getTrainingRun(t.db, "run_quota");
    expect(quota?.state).toBe("failed");
    expect(quota?.error).toMatch(/quota exhausted running job train .*: request Cloud Run GPU quota \(NVIDIA L4, without zonal redundancy\) for europe-west4/);
  });

  it("keeps a transiently failed launch for reconcile with back-off, and gives up after the last try", async () => {
    await setup();
    await seedRun("run_flaky");
    cloudRun.failNext(14);
    expect(await launchTrainingRun("run_flaky", t.deps)).toBe(false);
    let run = await getTrainingRun(t.db, "run_flaky");
    expect(run).toMatchObject({ state: "launching", launch_failures: 1 });
    const wait = (run!.next_launch_at!.getTime() - run!.updated_at.getTime()) / 1000;
    expect(wait).toBeCloseTo(LAUNCH_BACKOFF.baseSeconds, 0);

    // Not before the back-off has passed…
    await t.db.query(`UPDATE training_runs SET updated_at = now() - interval '1 hour' WHERE id = 'run_flaky'`);
    await reconcile(null, t.deps);
    expect(cloudRun.launches).toEqual([]);
    // …then again, doubling the wait; a 429 (rate limit, no quota detail) is transient too.
    await t.db.query(`UPDATE training_runs SET next_launch_at = now() - interval '1 second' WHERE id = 'run_flaky'`);
    cloudRun.failNext(8);
    await reconcile(null, t.deps);
    run = await getTrainingRun(t.db, "run_flaky");
    expect(run).toMatchObject({ state: "launching", launch_failures: 2 });
    expect((run!.next_launch_at!.getTime() - run!.updated_at.getTime()) / 1000).toBeCloseTo(2 * LAUNCH_BACKOFF.baseSeconds, 0);
    expect(t.notifier.sent).toEqual([]);

    // The last allowed failure fails the run with an alert.
    await t.db.query(`UPDATE training_runs SET launch_failures = $1, next_launch_at = now() - interval '1 second', updated_at = now() - interval '1 hour' WHERE id = 'run_flaky'`, [LAUNCH_MAX_FAILURES - 1]);
    cloudRun.failNext(14);
    await reconcile(null, t.deps);
    run = await getTrainingRun(t.db, "run_flaky");
    expect(run?.state).toBe("failed");
    expect(run?.error).toMatch(new RegExp(`^launch failed ${LAUNCH_MAX_FAILURES} times in a row; giving up\\. Last error: Cloud Run: cannot run job train .*code 14`));
    expect(t.notifier.sent.map((n) => [n.severity, n.title])).toEqual([["alert", "Training run_flaky could not be launched"]]);
  });

  it("launches after a transient failure once the back-off has passed, and resets the count", async () => {
    await setup();
    await seedRun("run_later");
    cloudRun.failNext(4);
    await launchTrainingRun("run_later", t.deps);
    await t.db.query(`UPDATE training_runs SET next_launch_at = now() - interval '1 second', updated_at = now() - interval '1 hour' WHERE id = 'run_later'`);
    const outcome = await reconcile(null, t.deps);
    expect(outcome.detail).toContain("run run_later launched");
    expect(await getTrainingRun(t.db, "run_later")).toMatchObject({ state: "running", launch_failures: 0, next_launch_at: null, execution_name: cloudRun.launches[0]!.executionName });
  });

  it("fails an evaluation whose job is not deployed, with the fix in the alert", async () => {
    await setup();
    await t.db.query(`INSERT INTO models (id, name, task, uri, card, dataset_version_id) VALUES ('mdl_e', 'm', 'segmentation', 'gs://models/default/runs/run_e/', '{}', 'dsv_l')`);
    await t.db.query(`INSERT INTO evaluations (id, candidate_model_id, dataset_version_id, state) VALUES ('eval_e', 'mdl_e', 'dsv_l', 'launching')`);
    cloudRun.failNext(5);
    expect(await launchEvaluation("eval_e", t.deps)).toBe(false);
    const evaluation = await getEvaluation(t.db, "eval_e");
    expect(evaluation?.state).toBe("failed");
    expect(evaluation?.error).toMatch(/job evaluate .* not found: deploy the job evaluate in europe-west4 .*EVALUATE_JOB/);
    expect(t.notifier.sent.map((n) => [n.severity, n.title])).toEqual([["alert", "Evaluation eval_e could not be launched"]]);
    await t.db.query(`UPDATE evaluations SET updated_at = now() - interval '1 hour'`);
    await reconcile(null, t.deps);
    expect(cloudRun.launches).toEqual([]);
  });
});
