import { afterEach, describe, expect, it } from "vitest";
import { PermanentError } from "../../../shared/errors.ts";
import {
  EvaluateJobEnvSchema, TrainJobEnvSchema, evaluateJobEnv, isTrainerBadInputExit, parseEvaluateJobEnv, parseTrainJobEnv, trainJobEnv,
} from "../../../shared/messages/jobs.ts";
import { launchEvaluation, launchTrainingRun } from "../../../shared/core/usecases/training.ts";
import { createTestDeps, type TestDeps } from "../../helpers/deps.ts";

/** The job contracts: what the launcher builds is what the jobs parse, through one module. */
describe("job environment contracts", () => {
  let t: TestDeps;
  afterEach(async () => t?.close());

  async function seed() {
    await t.db.query(`INSERT INTO dataset_versions (id, line, seq, manifest_uri, item_count, train_count, eval_count, fresh_count, classes, trigger)
                      VALUES ('dsv_c', 'default', 3, 'gs://datasets/default/abc/manifest.json', 1, 1, 0, 1, '[]', 'test')`);
    await t.db.query(`INSERT INTO training_runs (id, line, dataset_version_id, state, output_prefix, params, attempt)
                      VALUES ('run_c', 'default', 'dsv_c', 'launching', 'gs://models/default/runs/run_c/', '{"epochs":4,"note":"é \\"quoted\\""}', 2)`);
    await t.db.query(`INSERT INTO models (id, name, task, uri, card, dataset_version_id) VALUES ('mdl_a', 'a', 'segmentation', 'gs://models/default/runs/run_a/', '{}', 'dsv_c'),
                                                                                               ('mdl_b', 'b', 'segmentation', 'gs://models/default/runs/run_b/', '{}', 'dsv_c')`);
    await t.db.query(`INSERT INTO evaluations (id, candidate_model_id, champion_model_id, dataset_version_id, state) VALUES ('eval_c', 'mdl_b', 'mdl_a', 'dsv_c', 'launching')`);
  }

  it("the training launch builds an environment the train job parses, field for field", async () => {
    t = await createTestDeps({ env: { TRAINER_COMMAND: "python -m train", BASE_MODEL_URI: "gs://models/base/", TRAIN_TIMEOUT_SECONDS: "1800" } });
    await seed();
    expect(await launchTrainingRun("run_c", t.deps)).toBe(true);
    const launch = t.jobs.launches[0]!;
    expect(launch.timeoutSeconds).toBe(1800);
    // The job sees the execution's env merged into its own (Cloud Run adds its variables).
    const parsed = parseTrainJobEnv({ ...launch.env, CLOUD_RUN_TASK_ATTEMPT: "0", PATH: "/usr/bin" });
    expect(parsed).toEqual({
      RUN_ID: "run_c", RUN_ATTEMPT: 2, DATASET_URI: "gs://datasets/default/abc/manifest.json", OUTPUT_PREFIX: "gs://models/default/runs/run_c/",
      PARAMS: expect.any(String), BASE_MODEL_URI: "gs://models/base/", TRAINER_COMMAND: "python -m train",
    });
    expect(JSON.parse(parsed.PARAMS)).toEqual({ epochs: 4, note: 'é "quoted"' });
    expect(Object.keys(launch.env).every((k) => k in TrainJobEnvSchema.shape)).toBe(true);
  });

  it("the evaluation launch builds an environment the evaluate job parses, field for field", async () => {
    t = await createTestDeps({ env: { BENCHMARK_DATASET_URI: "gs://datasets/bench/manifest.json" } });
    await seed();
    expect(await launchEvaluation("eval_c", t.deps)).toBe(true);
    const launch = t.jobs.launches[0]!;
    expect(launch.timeoutSeconds).toBe(3600);
    expect(parseEvaluateJobEnv(launch.env)).toEqual({
      EVALUATION_ID: "eval_c",
      CANDIDATE_MODEL_ID: "mdl_b", CANDIDATE_MODEL_URI: "gs://models/default/runs/run_b/",
      CHAMPION_MODEL_ID: "mdl_a", CHAMPION_MODEL_URI: "gs://models/default/runs/run_a/",
      DATASET_URI: "gs://datasets/default/abc/manifest.json",
      REPORT_PREFIX: `gs://${t.deps.config.buckets.models}/default/evaluations/eval_c/`,
      BENCHMARK_DATASET_URI: "gs://datasets/bench/manifest.json",
      ONNX_EXECUTION_PROVIDERS: "auto",
    });
    expect(Object.keys(launch.env).every((k) => k in EvaluateJobEnvSchema.shape)).toBe(true);
  });

});

describe("job contract checks", () => {
  it("refuses at launch what the job would refuse", () => {
    const input = { runId: "r", attempt: 1, datasetUri: "gs://d/m.json", outputPrefix: "gs://m/r/", params: {} };
    expect(() => trainJobEnv({ ...input, outputPrefix: "gs://m/no-slash" })).toThrow(PermanentError);
    expect(() => trainJobEnv({ ...input, datasetUri: "/local/m.json" })).toThrow(/DATASET_URI/);
    expect(() => evaluateJobEnv({ evaluationId: "e", candidate: { id: "c", uri: "s3://x/" }, champion: null, datasetUri: "gs://d/m.json", reportPrefix: "gs://m/e/" })).toThrow(/CANDIDATE_MODEL_URI/);
  });

  it("knows the trainer's bad-input exit codes", () => {
    expect([2, 64, 65, 78].map(isTrainerBadInputExit)).toEqual([true, true, true, true]);
    expect([1, 3, 63, 79, 137, 143, null].map(isTrainerBadInputExit)).toEqual([false, false, false, false, false, false, false]);
  });
});
