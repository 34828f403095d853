import { describe, expect, it } from "vitest";
import { PermanentError, TransientError } from "../../../../shared/errors.ts";
import { CloudRunJobRunner, executionStatus } from "../../../../shared/adapters/gcp/cloud-run.ts";
import { FakeCloudRun } from "../../../fakes/cloud-run.ts";

function runner(api = new FakeCloudRun()) {
  return {
    api,
    jobs: new CloudRunJobRunner({ project: "test-proj", region: "europe-west4", jobNames: { train: "train-dev", evaluate: "evaluate-dev", predict: "predict-dev" }, api }),
  };
}

describe("CloudRunJobRunner.launch", () => {
  it("runs the configured job with env and timeout overrides and returns the execution name at once", async () => {
    const { api, jobs } = runner();
    const { executionName } = await jobs.launch({ job: "train", runId: "run_1", env: { RUN_ID: "run_1", DATASET_URI: "gs://d/m.json" }, timeoutSeconds: 3600 });
    expect(api.launches).toHaveLength(1);
    const launch = api.launches[0]!;
    expect(launch.job).toBe("projects/test-proj/locations/europe-west4/jobs/train-dev");
    expect(launch.env).toEqual({ RUN_ID: "run_1", DATASET_URI: "gs://d/m.json" });
    expect(launch.timeoutSeconds).toBe(3600);
    // The name comes from the operation's metadata (the Execution), not from awaiting the LRO.
    expect(executionName).toBe(launch.executionName);
    expect(executionName).toMatch(/^projects\/test-proj\/locations\/europe-west4\/jobs\/train-dev\/executions\//);
  });

  it("leaves the timeout alone when none is asked for", async () => {
    const { api, jobs } = runner();
    await jobs.launch({ job: "evaluate", runId: "eval_1", env: {} });
    expect(api.launches[0]!.jobName).toBe("evaluate-dev");
    expect(api.launches[0]!.timeoutSeconds).toBeNull();
  });

  it("maps UNAVAILABLE to TransientError and PERMISSION_DENIED to PermanentError", async () => {
    const { api, jobs } = runner();
    api.failNext(14);
    await expect(jobs.launch({ job: "train", runId: "r", env: {} })).rejects.toBeInstanceOf(TransientError);
    api.failNext(7);
    const err = await jobs.launch({ job: "train", runId: "r", env: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe("cloud_run_forbidden");
  });
});

describe("CloudRunJobRunner.status", () => {
  it("follows an execution from pending to running to succeeded", async () => {
    const { api, jobs } = runner();
    const { executionName } = await jobs.launch({ job: "train", runId: "r", env: {} });
    expect((await jobs.status(executionName)).state).toBe("pending");
    api.start(executionName);
    expect((await jobs.status(executionName)).state).toBe("running");
    api.succeed(executionName);
    const done = await jobs.status(executionName);
    expect(done).toMatchObject({ state: "succeeded", timedOut: false, message: null });
    expect(done.finishedAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });

  it("reports a failure, with timedOut only when the task hit its deadline", async () => {
    const { api, jobs } = runner();
    const a = (await jobs.launch({ job: "train", runId: "a", env: {} })).executionName;
    const b = (await jobs.launch({ job: "train", runId: "b", env: {} })).executionName;
    api.fail(a);
    api.fail(b, { timedOut: true });
    const crashed = await jobs.status(a);
    expect(crashed).toMatchObject({ state: "failed", timedOut: false });
    expect(crashed.message).toContain("exited with an error");
    expect(await jobs.status(b)).toMatchObject({ state: "failed", timedOut: true });
  });

  it("reports cancelled after cancel, and cancel of an unknown execution is a no-op", async () => {
    const { api, jobs } = runner();
    const { executionName } = await jobs.launch({ job: "evaluate", runId: "e", env: {} });
    await jobs.cancel(executionName);
    expect(api.cancelled).toEqual([executionName]);
    expect((await jobs.status(executionName)).state).toBe("cancelled");
    await expect(jobs.cancel("projects/p/locations/r/jobs/j/executions/gone")).resolves.toBeUndefined();
  });

  it("reports unknown for an execution that does not exist", async () => {
    const { jobs } = runner();
    expect((await jobs.status("projects/p/locations/r/jobs/j/executions/gone")).state).toBe("unknown");
  });
});

describe("CloudRunJobRunner.status: how an execution ended, from the task's last attempt", () => {
  async function ended(end: Parameters<FakeCloudRun["endAttempt"]>[1]) {
    const { api, jobs } = runner(new FakeCloudRun({ maxRetries: { "train-dev": 1 } }));
    const { executionName } = await jobs.launch({ job: "train", runId: "r", env: {} });
    api.start(executionName);
    expect(api.endAttempt(executionName, end)).toBe("retried");
    // A retried attempt leaves the execution running.
    expect((await jobs.status(executionName)).state).toBe("running");
    expect(api.endAttempt(executionName, end)).toBe("failed");
    return jobs.status(executionName);
  }

  it("host maintenance: the wrapper's exit 143 after SIGTERM, or the signal itself", async () => {
    expect(await ended({ kind: "maintenance" })).toMatchObject({ state: "failed", termination: "exited", exitCode: 143, retries: 1, message: expect.stringMatching(/host maintenance/) });
    expect(await ended({ kind: "maintenance", handledSigterm: false })).toMatchObject({ state: "failed", termination: "terminated", retries: 1 });
  });

  it("the timeout, the memory limit and a non-zero exit", async () => {
    expect(await ended({ kind: "timeout" })).toMatchObject({ state: "failed", termination: "timeout", timedOut: true });
    expect(await ended({ kind: "oom" })).toMatchObject({ state: "failed", termination: "killed", timedOut: false, message: expect.stringMatching(/Memory limit/) });
    const exited = await ended({ kind: "exit", code: 2 });
    expect(exited).toMatchObject({ state: "failed", termination: "exited", exitCode: 2 });
  });

  it("a container the platform could not start is refused", async () => {
    const { api, jobs } = runner();
    const { executionName } = await jobs.launch({ job: "train", runId: "r", env: {} });
    api.refuse(executionName, "CONTAINER_MISSING", "Image 'europe-west4-docker.pkg.dev/p/jobs/train:v9' not found.");
    expect(await jobs.status(executionName)).toMatchObject({ state: "failed", termination: "refused", message: expect.stringMatching(/not found/) });
  });

  it("keeps the execution-level status when the tasks cannot be listed (permission), and retries on UNAVAILABLE", async () => {
    const { api, jobs } = runner();
    const { executionName } = await jobs.launch({ job: "train", runId: "r", env: {} });
    api.fail(executionName, { timedOut: true });
    api.failNext(0, 7); // getExecution succeeds (code 0 = no error), listTasks is denied
    expect(await jobs.status(executionName)).toMatchObject({ state: "failed", termination: "timeout" });
    api.failNext(0, 14);
    await expect(jobs.status(executionName)).rejects.toBeInstanceOf(TransientError);
  });
});

describe("CloudRunJobRunner.launch errors name the fix", () => {
  const launch = async (error: Parameters<FakeCloudRun["failNextWith"]>[0]) => {
    const { api, jobs } = runner();
    api.failNextWith(error);
    return jobs.launch({ job: "evaluate", runId: "e", env: {} }).then(
      () => { throw new Error("the launch should have failed"); },
      (e: unknown) => e as Error,
    );
  };

  it("PERMISSION_DENIED: the roles infra/iam.tf grants launchers", async () => {
    const err = await launch({ code: 7, message: "PERMISSION_DENIED: Permission 'run.jobs.runWithOverrides' denied" });
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toMatch(/permission denied running job evaluate-dev \(project test-proj, region europe-west4\): grant the launching function's service account roles\/run\.jobsExecutorWithOverrides .*roles\/run\.viewer/);
    expect(err.message).toContain("run.jobs.runWithOverrides");
  });

  it("NOT_FOUND: deploy the job; INVALID_ARGUMENT: check the overrides", async () => {
    expect((await launch({ code: 5 })).message).toMatch(/job evaluate-dev .* not found: deploy the job evaluate-dev in europe-west4 .*EVALUATE_JOB/);
    const invalid = await launch({ code: 3, message: "INVALID_ARGUMENT: timeout must be at most 3600s for GPU tasks" });
    expect(invalid).toMatchObject({ code: "cloud_run_invalid" });
  });

  it("RESOURCE_EXHAUSTED is permanent for quota, transient for rate limits; 5xx and 429 over HTTP are transient", async () => {
    expect(await launch({ code: 8, message: "Quota exceeded for quota metric 'GPU allocation'" })).toMatchObject({ code: "cloud_run_quota" });
    expect(await launch({ code: 8, statusDetails: [{ violations: [{ subject: "gpu", description: "limit 0" }] }] })).toMatchObject({ code: "cloud_run_quota" });
    expect(await launch({ code: 8, message: "Too many requests", reason: "RATE_LIMIT_EXCEEDED" })).toBeInstanceOf(TransientError);
    for (const code of [4, 13, 14, 429, 503]) expect(await launch({ code })).toBeInstanceOf(TransientError);
    for (const code of [400, 401, 403, 404]) expect(await launch({ code })).toBeInstanceOf(PermanentError);
  });
});

describe("executionStatus", () => {
  it("accepts numeric enums and int64 seconds as numbers (protobufjs decoding)", () => {
    const status = executionStatus({
      taskCount: 1,
      failedCount: 1,
      completionTime: { seconds: 1_767_225_600, nanos: 500_000_000 },
      conditions: [{ type: "Completed", state: 3, message: "Task attempt exceeded the timeout of 3600s" }],
    });
    expect(status).toEqual({
      state: "failed", timedOut: true, message: "Task attempt exceeded the timeout of 3600s", finishedAt: "2026-01-01T00:00:00.500Z", termination: "timeout", retries: 0,
    });
  });

  it("treats a cancelled execution reason as cancelled even without counts", () => {
    const status = executionStatus({ taskCount: 1, completionTime: { seconds: "1767225600" }, conditions: [{ state: "CONDITION_FAILED" as never, executionReason: "CANCELLED" as never }] });
    expect(status.state).toBe("cancelled");
  });
});
