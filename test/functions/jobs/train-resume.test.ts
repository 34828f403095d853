import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_OK, EXIT_TERMINATED, runTrainingJob } from "../../../functions/jobs/train.ts";
import { CloudRunJobRunner } from "../../../shared/adapters/gcp/cloud-run.ts";
import { launchTrainingRun, onTrainingCompleted } from "../../../shared/core/usecases/training.ts";
import { reconcile } from "../../../shared/core/usecases/reconcile.ts";
import { getTrainingRun } from "../../../shared/db/queries/training.ts";
import { parseTrainJobEnv } from "../../../shared/messages/jobs.ts";
import type { Envelope } from "../../../shared/messages/envelope.ts";
import type { TrainingCompleted } from "../../../shared/messages/events.ts";
import type { LogFields, Logger } from "../../../shared/ports.ts";
import { FakeCloudRun } from "../../fakes/cloud-run.ts";
import { createTestDeps, type TestDeps } from "../../helpers/deps.ts";
import { demoManifest, makeDemoItem } from "./trainers/demo-dataset.ts";

/**
 * A training run on Cloud Run whose GPU task is ended by host maintenance ("Tasks that use GPUs
 * cannot be live migrated and are terminated instead", run/docs/configuring/task-timeout) after the
 * baseline trainer wrote a checkpoint: reconcile resumes it in a new execution, and the train job
 * entrypoint, with the same baseline trainer, continues from that checkpoint to a model.
 */

/** Epochs of the run: many short ones, so the maintenance stop lands long before the last. */
const PARAMS = { epochs: 300, samplesPerImage: 32, batchSize: 64, hidden: 4 };

let t: TestDeps;
let cloudRun: FakeCloudRun;
let tmpRoot: string;

beforeAll(async () => {
  t = await createTestDeps({ env: { TRAIN_MAX_ATTEMPTS: "3" } });
  cloudRun = new FakeCloudRun();
  t.deps.jobs = new CloudRunJobRunner({ project: "test-proj", region: "europe-west4", jobNames: { train: "train", evaluate: "evaluate", predict: "predict" }, api: cloudRun });
  tmpRoot = await mkdtemp(join(tmpdir(), "train-resume-"));

  const items = [];
  for (let k = 0; k < 3; k++) items.push(await makeDemoItem(`it_${k}`, 700 + k, 32, "train"));
  const { files, manifestJson, versionId } = demoManifest(items);
  for (const [uri, bytes] of files) await t.store.put(uri, bytes);
  const datasetUri = `gs://datasets/default/${versionId}/manifest.json`;
  await t.store.put(datasetUri, manifestJson);
  await t.db.query(
    `INSERT INTO dataset_versions (id, line, seq, manifest_uri, item_count, train_count, eval_count, fresh_count, classes, trigger)
     VALUES ('dsv_m', 'default', 1, $1, 3, 3, 0, 3, '[]', 'test')`,
    [datasetUri],
  );
  await t.db.query(
    `INSERT INTO training_runs (id, line, dataset_version_id, state, output_prefix, params) VALUES ('run_m', 'default', 'dsv_m', 'launching', 'gs://models/default/runs/run_m/', $1)`,
    [JSON.stringify(PARAMS)],
  );
});

afterAll(async () => {
  await t?.close();
  await rm(tmpRoot, { recursive: true, force: true });
});

/** A logger that records, and calls `onLine` for each line the trainer printed. */
function hookedLogger(onLine: (message: string) => void): Logger & { entries: { message: string; fields: LogFields }[] } {
  const entries: { message: string; fields: LogFields }[] = [];
  const make = (base: LogFields): Logger => {
    const log = (message: string, fields?: LogFields) => {
      entries.push({ message, fields: { ...base, ...fields } });
      onLine(message);
    };
    return { debug: log, info: log, warn: log, error: log, child: (fields) => make({ ...base, ...fields }) };
  };
  return Object.assign(make({}), { entries });
}

describe("a training run ended by GPU host maintenance", () => {
  it("is resumed by reconcile and completes from its checkpoint with the baseline trainer", async () => {
    const prefix = "gs://models/default/runs/run_m/";
    expect(await launchTrainingRun("run_m", t.deps)).toBe(true);
    const first = cloudRun.launches[0]!;
    expect(parseTrainJobEnv(first.env)).toMatchObject({ RUN_ID: "run_m", RUN_ATTEMPT: 1, OUTPUT_PREFIX: prefix });
    cloudRun.start(first.executionName);

    // Attempt 1: the platform sends SIGTERM once the trainer has finished its first epoch.
    const controller = new AbortController();
    const firstLog = hookedLogger((line) => {
      if (line.startsWith("epoch 1/")) controller.abort();
    });
    const jobDeps = (log: Logger) => ({ store: t.store, publisher: t.publisher, log, clock: { now: () => new Date("2026-02-01T00:00:00Z") } });
    const stopped = await runTrainingJob(first.env, jobDeps(firstLog), controller.signal, { checkpointIntervalMs: 50, tmpRoot });
    expect(stopped).toBe(EXIT_TERMINATED);
    expect(await t.store.head(`${prefix}checkpoints/checkpoint.json`)).not.toBeNull();
    expect(await t.store.head(`${prefix}result.json`)).toBeNull();
    expect(t.publisher.messages.filter((m) => m.type !== "training.started")).toEqual([]);

    // Cloud Run retries the task while max_retries allow; here every attempt meets maintenance.
    let end: "retried" | "failed" = "retried";
    while (end === "retried") end = cloudRun.endAttempt(first.executionName, { kind: "maintenance" });
    const status = await t.deps.jobs.status(first.executionName);
    expect(status).toMatchObject({ state: "failed", termination: "exited", exitCode: EXIT_TERMINATED, retries: cloudRun.maxRetries.train });

    // reconcile: a platform stop is not permanent — a new execution of the same run, attempt 2.
    await t.db.query(`UPDATE training_runs SET updated_at = now() - interval '1 hour' WHERE id = 'run_m'`);
    const outcome = await reconcile(null, t.deps);
    expect(outcome.detail).toMatch(/run run_m: resumed \(execution stopped by the platform \(host maintenance/);
    expect(cloudRun.launches).toHaveLength(2);
    const second = cloudRun.launches[1]!;
    expect(parseTrainJobEnv(second.env)).toMatchObject({ RUN_ID: "run_m", RUN_ATTEMPT: 2, OUTPUT_PREFIX: prefix, PARAMS: first.env.PARAMS });
    expect(await getTrainingRun(t.db, "run_m")).toMatchObject({ state: "running", attempt: 2, execution_name: second.executionName });

    // Attempt 2: the same entrypoint restores the checkpoint and trains on to the end.
    const secondLog = hookedLogger(() => undefined);
    expect(await runTrainingJob(second.env, jobDeps(secondLog), undefined, { checkpointIntervalMs: 50, tmpRoot })).toBe(EXIT_OK);
    const resumed = secondLog.entries.map((e) => /^resuming from checkpoint after epoch (\d+)\/300$/.exec(e.message)).find(Boolean);
    expect(resumed, "the trainer resumed from the checkpoint").toBeTruthy();
    const epoch = Number(resumed![1]);
    expect(epoch).toBeGreaterThanOrEqual(1);
    expect(epoch).toBeLessThan(PARAMS.epochs);
    expect(secondLog.entries.some((e) => e.message === "checkpoints restored")).toBe(true);
    expect(secondLog.entries.some((e) => e.message.startsWith("epoch 1/"))).toBe(false);
    expect(secondLog.entries.some((e) => e.message.startsWith("epoch 300/300"))).toBe(true);
    cloudRun.succeed(second.executionName);

    // The completion arrives: the run succeeds with the model trained across both executions.
    const completed = t.publisher.ofType("training.completed") as Envelope<TrainingCompleted>[];
    expect(completed.map((m) => m.id)).toEqual(["training.completed:run_m"]);
    expect((completed[0]!.data.selfReported as { epochs: number }).epochs).toBe(PARAMS.epochs);
    await onTrainingCompleted(completed[0]!, t.deps);
    expect(await getTrainingRun(t.db, "run_m")).toMatchObject({ state: "succeeded", attempt: 2 });
  });
});
