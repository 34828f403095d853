import { afterEach, describe, expect, it } from "vitest";
import { reconcile } from "../../../../shared/core/usecases/reconcile.ts";
import { onTrainingFailed } from "../../../../shared/core/usecases/training.ts";
import { getEvaluation } from "../../../../shared/db/queries/evaluations.ts";
import { getTrainingRun } from "../../../../shared/db/queries/training.ts";
import { buildEnvelope } from "../../../../shared/messages/build.ts";
import type { Envelope } from "../../../../shared/messages/envelope.ts";
import type { TrainingFailed } from "../../../../shared/messages/events.ts";
import { testDbKind } from "../../../helpers/db.ts";
import { createTestDeps, type TestDeps } from "../../../helpers/deps.ts";

/** How reconcile judges finished executions from their structured status (termination, exit code). */
describe(`reconcile: job executions (${testDbKind})`, () => {
  let t: TestDeps;
  afterEach(async () => t?.close());

  async function seedRun(id: string, executionName: string, attempt = 1) {
    await t.db.query(`INSERT INTO dataset_versions (id, line, seq, manifest_uri, item_count, train_count, eval_count, fresh_count, classes, trigger)
                      VALUES ('v_${id}', 'line-${id}', 1, 'gs://datasets/m.json', 1, 1, 0, 1, '[]', 'test')`);
    await t.db.query(
      `INSERT INTO training_runs (id, line, dataset_version_id, state, execution_name, output_prefix, attempt, updated_at)
       VALUES ($1, $2, $3, 'running', $4, $5, $6, now() - interval '1 hour')`,
      [id, `line-${id}`, `v_${id}`, executionName, `gs://models/line-${id}/runs/${id}/`, attempt],
    );
  }

  it("resumes a run killed for memory (SIGKILL) and one stopped by SIGTERM (exit 143)", async () => {
    t = await createTestDeps({ env: { TRAIN_MAX_ATTEMPTS: "3" } });
    await seedRun("run_oom", "exec-oom");
    await seedRun("run_term", "exec-term");
    t.jobs.finish("exec-oom", "failed", false, { termination: "killed", message: "Memory limit of 16384 MiB exceeded" });
    t.jobs.finish("exec-term", "failed", false, { termination: "exited", exitCode: 143 });
    const outcome = await reconcile(null, t.deps);
    expect(outcome.detail).toContain("run run_oom: resumed (execution killed (SIGKILL: the memory limit");
    expect(outcome.detail).toContain("run run_term: resumed (execution stopped by the platform");
    expect(t.jobs.launches.map((l) => [l.runId, l.env.RUN_ATTEMPT]).sort()).toEqual([["run_oom", "2"], ["run_term", "2"]]);
  });

  it("fails, without resuming, a run whose job refused its input, whose container could not start, or that was cancelled", async () => {
    t = await createTestDeps({ env: { TRAIN_MAX_ATTEMPTS: "5" } });
    await seedRun("run_bad", "exec-bad");
    await seedRun("run_img", "exec-img");
    await seedRun("run_cxl", "exec-cxl");
    t.jobs.finish("exec-bad", "failed", false, { termination: "exited", exitCode: 2 });
    t.jobs.finish("exec-img", "failed", false, { termination: "refused", message: "Image 'europe-west4-docker.pkg.dev/p/jobs/train:v9' not found." });
    t.jobs.finish("exec-cxl", "cancelled", false, { termination: "cancelled" });
    await reconcile(null, t.deps);
    expect(t.jobs.launches).toEqual([]);
    expect((await getTrainingRun(t.db, "run_bad"))?.error).toBe("the job refused its input (exit 2)");
    expect((await getTrainingRun(t.db, "run_img"))?.error).toBe("the platform could not start the job's container: Image 'europe-west4-docker.pkg.dev/p/jobs/train:v9' not found.");
    expect((await getTrainingRun(t.db, "run_cxl"))?.state).toBe("failed");
    expect(t.notifier.sent.filter((n) => n.severity === "alert").map((n) => n.title).sort()).toEqual(["Training run_bad failed", "Training run_cxl failed", "Training run_img failed"]);
  });

  it("resends the failure the job recorded in failure.json when its message never arrived", async () => {
    t = await createTestDeps();
    await seedRun("run_rec", "exec-rec", 2);
    const record = { runId: "run_rec", attempt: 2, reason: "trainer_bad_input: trainer exited with code 2 (bad input)", resumable: false, messageId: "training.failed:run_rec:a2:abcdef012345" };
    await t.store.put("gs://models/line-run_rec/runs/run_rec/failure.json", JSON.stringify(record));
    t.jobs.finish("exec-rec", "failed", false, { termination: "exited", exitCode: 2 });
    const outcome = await reconcile(null, t.deps);
    expect(outcome.detail).toContain("run run_rec: failure recovered from failure.json");
    expect(t.publisher.ofType("training.failed").map((m) => [m.id, m.data])).toEqual([
      [record.messageId, { runId: "run_rec", attempt: 2, reason: record.reason, resumable: false }],
    ]);
    // The message does the rest, as if the job's own had arrived.
    await onTrainingFailed(t.publisher.ofType("training.failed")[0] as Envelope<TrainingFailed>, t.deps);
    expect(await getTrainingRun(t.db, "run_rec")).toMatchObject({ state: "failed", error: record.reason });
  });

  it("ignores a failure.json an earlier attempt left", async () => {
    t = await createTestDeps({ env: { TRAIN_MAX_ATTEMPTS: "3" } });
    await seedRun("run_old", "exec-old", 2);
    const stale = { runId: "run_old", attempt: 1, reason: "trainer exited with code 3", resumable: true, messageId: "training.failed:run_old:a1:000000000000" };
    await t.store.put("gs://models/line-run_old/runs/run_old/failure.json", JSON.stringify(stale));
    t.jobs.finish("exec-old", "failed", false, { termination: "exited", exitCode: 2 });
    await reconcile(null, t.deps);
    expect(t.publisher.ofType("training.failed")).toEqual([]);
    expect((await getTrainingRun(t.db, "run_old"))?.state).toBe("failed");
  });

  it("ignores a training.failed of an earlier attempt", async () => {
    t = await createTestDeps({ env: { TRAIN_MAX_ATTEMPTS: "3" } });
    await seedRun("run_late", "exec-late", 2);
    const late = buildEnvelope("training.failed", { runId: "run_late", reason: "trainer exited with code 3", resumable: true, attempt: 1 }, { id: "training.failed:run_late:a1:x", occurredAt: new Date() });
    const outcome = await onTrainingFailed(late as Envelope<TrainingFailed>, t.deps);
    expect(outcome.status).toBe("skipped");
    expect(await getTrainingRun(t.db, "run_late")).toMatchObject({ state: "running", attempt: 2 });
    expect(t.jobs.launches).toEqual([]);
  });

  it("resumes a crashed run on its training.failed (resumable) until the attempts run out", async () => {
    t = await createTestDeps({ env: { TRAIN_MAX_ATTEMPTS: "2" } });
    await seedRun("run_crash", "exec-crash", 1);
    const failed = (attempt: number) => buildEnvelope("training.failed", { runId: "run_crash", reason: "trainer was killed by SIGKILL", resumable: true, attempt }, { id: `training.failed:run_crash:a${attempt}:x`, occurredAt: new Date() }) as Envelope<TrainingFailed>;
    expect((await onTrainingFailed(failed(1), t.deps)).detail).toBe("resuming run run_crash (attempt 2)");
    expect(t.jobs.launches.map((l) => l.env.RUN_ATTEMPT)).toEqual(["2"]);
    await onTrainingFailed(failed(2), t.deps);
    expect(await getTrainingRun(t.db, "run_crash")).toMatchObject({ state: "failed", error: "trainer was killed by SIGKILL (gave up after 2 attempts)" });
  });

  it("relaunches an evaluation stopped by maintenance and fails one whose job refused its input", async () => {
    t = await createTestDeps();
    await t.db.query(`INSERT INTO dataset_versions (id, line, seq, manifest_uri, item_count, train_count, eval_count, fresh_count, classes, trigger)
                      VALUES ('v_e', 'line-e', 1, 'gs://datasets/m.json', 1, 1, 0, 1, '[]', 'test')`);
    await t.db.query(`INSERT INTO models (id, name, task, uri, card, dataset_version_id) VALUES ('mdl_1', 'm', 'segmentation', 'gs://models/line-e/runs/r1/', '{}', 'v_e'),
                                                                                               ('mdl_2', 'm', 'segmentation', 'gs://models/line-e/runs/r2/', '{}', 'v_e')`);
    await t.db.query(`INSERT INTO evaluations (id, candidate_model_id, dataset_version_id, state, execution_name, updated_at)
                      VALUES ('eval_m', 'mdl_1', 'v_e', 'running', 'exec-em', now() - interval '1 hour'),
                             ('eval_b', 'mdl_2', 'v_e', 'running', 'exec-eb', now() - interval '1 hour')`);
    t.jobs.finish("exec-em", "failed", false, { termination: "exited", exitCode: 143, retries: 2 });
    t.jobs.finish("exec-eb", "failed", false, { termination: "exited", exitCode: 2 });
    const outcome = await reconcile(null, t.deps);
    expect(outcome.detail).toContain("evaluation eval_m: relaunched (execution stopped by the platform (host maintenance or preemption; GPU tasks are not live-migrated) after 2 task retries)");
    expect(await getEvaluation(t.db, "eval_m")).toMatchObject({ state: "running", attempt: 2 });
    expect(await getEvaluation(t.db, "eval_b")).toMatchObject({ state: "failed", error: "the job refused its input (exit 2)" });
    expect(t.jobs.launches.map((l) => [l.job, l.runId])).toEqual([["evaluate", "eval_m"]]);
  });
});
