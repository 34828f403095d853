import type { protos } from "@google-cloud/run";
import { TransientError } from "../../errors.ts";
import type { JobLaunchRequest, JobName, JobRunner, JobStatus } from "../../ports.ts";
import { executionStatus, grpcCode, mapLaunchError, mapRunError } from "./cloud-run-status.ts";

export { executionStatus, mapLaunchError, mapRunError } from "./cloud-run-status.ts";

type IExecution = protos.google.cloud.run.v2.IExecution;
type ITask = protos.google.cloud.run.v2.ITask;
type IRunJobRequest = protos.google.cloud.run.v2.IRunJobRequest;

/**
 * The Cloud Run Admin API calls the runner makes. The real ones come from `JobsClient`,
 * `ExecutionsClient` and `TasksClient`; tests pass a fake (`test/fakes/cloud-run.ts`).
 */
export interface CloudRunApi {
  /** Resolves with the LRO; its `metadata` is the new Execution, available before it finishes. */
  runJob(request: IRunJobRequest): Promise<[{ name?: string | null; metadata?: IExecution | null }, ...unknown[]]>;
  getExecution(request: { name: string }): Promise<[IExecution, ...unknown[]]>;
  /** The execution's tasks, with each one's last attempt result (exit code, termination signal). */
  listTasks(request: { parent: string }): Promise<[ITask[], ...unknown[]]>;
  cancelExecution(request: { name: string }): Promise<unknown>;
}

export interface CloudRunJobRunnerOptions {
  project: string;
  region: string;
  /** Our job name → the Cloud Run job's name (TRAIN_JOB, EVALUATE_JOB). */
  jobNames: Record<JobName, string>;
  /** Who launches (the calling function's service account), named in the fix of a refused launch. */
  principal?: string;
  api?: CloudRunApi;
}

/** Builds the API from `@google-cloud/run` (loaded here, so only functions that launch jobs pay for it). */
export async function createCloudRunApi(): Promise<CloudRunApi> {
  const { JobsClient, ExecutionsClient, TasksClient } = await import("@google-cloud/run");
  const jobs = new JobsClient();
  const executions = new ExecutionsClient();
  const tasks = new TasksClient();
  return {
    runJob: (request) => jobs.runJob(request) as unknown as ReturnType<CloudRunApi["runJob"]>,
    getExecution: (request) => executions.getExecution(request) as unknown as ReturnType<CloudRunApi["getExecution"]>,
    listTasks: (request) => tasks.listTasks(request) as unknown as ReturnType<CloudRunApi["listTasks"]>,
    cancelExecution: (request) => executions.cancelExecution(request),
  };
}

/**
 * JobRunner on Cloud Run jobs. `launch` starts an execution with per-run overrides (env, task
 * timeout) and returns its name straight from the operation's metadata: a function has at most
 * 540 s and a GPU task up to an hour, so the operation is never awaited. RunJob has no idempotency
 * token; the caller claims a row before launching and stores the name after (README "Architecture", Jobs).
 */
export class CloudRunJobRunner implements JobRunner {
  private readonly options: CloudRunJobRunnerOptions;
  private apiPromise: Promise<CloudRunApi> | undefined;

  constructor(options: CloudRunJobRunnerOptions) {
    this.options = options;
    if (options.api) this.apiPromise = Promise.resolve(options.api);
  }

  private api(): Promise<CloudRunApi> {
    this.apiPromise ??= createCloudRunApi();
    return this.apiPromise;
  }

  jobPath(job: JobName): string {
    const { project, region, jobNames } = this.options;
    return `projects/${project}/locations/${region}/jobs/${jobNames[job]}`;
  }

  async launch(request: JobLaunchRequest): Promise<{ executionName: string }> {
    const env = Object.entries(request.env).map(([name, value]) => ({ name, value }));
    const runRequest: IRunJobRequest = {
      name: this.jobPath(request.job),
      overrides: {
        containerOverrides: [{ env }],
        ...(request.timeoutSeconds ? { timeout: { seconds: request.timeoutSeconds } } : {}),
      },
    };
    let executionName: string | null | undefined;
    try {
      const [operation] = await (await this.api()).runJob(runRequest);
      executionName = operation.metadata?.name;
    } catch (err) {
      throw mapLaunchError(err, { job: this.options.jobNames[request.job], setting: `${request.job.toUpperCase()}_JOB`, project: this.options.project, region: this.options.region, principal: this.options.principal ?? null });
    }
    if (!executionName) {
      // The execution may exist; the caller's claim row and reconcile find it by RUN_ID later.
      throw new Error(`Cloud Run started ${runRequest.name} but returned no execution name in the operation metadata`);
    }
    return { executionName };
  }

  async status(executionName: string): Promise<JobStatus> {
    let execution: IExecution;
    try {
      [execution] = await (await this.api()).getExecution({ name: executionName });
    } catch (err) {
      if (grpcCode(err) === 5) return { state: "unknown", timedOut: false, message: `execution ${executionName} not found`, finishedAt: null, termination: "lost" };
      throw mapRunError(err, `read ${executionName}`);
    }
    const status = executionStatus(execution);
    if (status.state !== "failed") return status;
    // How the last attempt ended (exit code, signal) lives on the tasks. Without them the
    // execution's conditions still give a status, only a less precise one.
    try {
      const [tasks] = await (await this.api()).listTasks({ parent: executionName });
      return executionStatus(execution, tasks);
    } catch (err) {
      const mapped = mapRunError(err, `list the tasks of ${executionName}`);
      if (mapped instanceof TransientError) throw mapped;
      return status;
    }
  }

  async cancel(executionName: string): Promise<void> {
    try {
      await (await this.api()).cancelExecution({ name: executionName });
    } catch (err) {
      // Already gone or already finished: nothing left to cancel.
      if (grpcCode(err) === 5 || grpcCode(err) === 9) return;
      throw mapRunError(err, `cancel ${executionName}`);
    }
  }
}

