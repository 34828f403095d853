import type { protos } from "@google-cloud/run";
import { PermanentError, TransientError } from "../../errors.ts";
import type { JobLaunchRequest, JobName, JobRunner, JobStatus } from "../../ports.ts";

type IExecution = protos.google.cloud.run.v2.IExecution;
type IRunJobRequest = protos.google.cloud.run.v2.IRunJobRequest;
type ITimestamp = protos.google.protobuf.ITimestamp;

/**
 * The three Cloud Run Admin API calls the runner makes. The real ones come from `JobsClient` and
 * `ExecutionsClient`; tests pass a fake (`test/fakes/cloud-run.ts`).
 */
export interface CloudRunApi {
  /** Resolves with the LRO; its `metadata` is the new Execution, available before it finishes. */
  runJob(request: IRunJobRequest): Promise<[{ name?: string | null; metadata?: IExecution | null }, ...unknown[]]>;
  getExecution(request: { name: string }): Promise<[IExecution, ...unknown[]]>;
  cancelExecution(request: { name: string }): Promise<unknown>;
}

export interface CloudRunJobRunnerOptions {
  project: string;
  region: string;
  /** Our job name → the Cloud Run job's name (TRAIN_JOB, EVALUATE_JOB). */
  jobNames: Record<JobName, string>;
  api?: CloudRunApi;
}

/** Builds the API from `@google-cloud/run` (loaded here, so only functions that launch jobs pay for it). */
export async function createCloudRunApi(): Promise<CloudRunApi> {
  const { JobsClient, ExecutionsClient } = await import("@google-cloud/run");
  const jobs = new JobsClient();
  const executions = new ExecutionsClient();
  return {
    runJob: (request) => jobs.runJob(request) as unknown as ReturnType<CloudRunApi["runJob"]>,
    getExecution: (request) => executions.getExecution(request) as unknown as ReturnType<CloudRunApi["getExecution"]>,
    cancelExecution: (request) => executions.cancelExecution(request),
  };
}

/**
 * JobRunner on Cloud Run jobs. `launch` starts an execution with per-run overrides (env, task
 * timeout) and returns its name straight from the operation's metadata: a function has at most
 * 540 s and a GPU task up to an hour, so the operation is never awaited. RunJob has no idempotency
 * token; the caller claims a row before launching and stores the name after (see DESIGN §4).
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
      throw mapRunError(err, `launch ${runRequest.name}`);
    }
    if (!executionName) {
      // The execution may exist; the caller's claim row and reconcile find it by RUN_ID later.
      throw new Error(`Cloud Run started ${runRequest.name} but returned no execution name in the operation metadata`);
    }
    return { executionName };
  }

  async status(executionName: string): Promise<JobStatus> {
    try {
      const [execution] = await (await this.api()).getExecution({ name: executionName });
      return executionStatus(execution);
    } catch (err) {
      if (grpcCode(err) === 5) return { state: "unknown", timedOut: false, message: `execution ${executionName} not found`, finishedAt: null };
      throw mapRunError(err, `read ${executionName}`);
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

const CONDITION_FAILED = 3;
const REASON_CANCELLED = 3;
const TIMEOUT_TEXT = /time ?out|timed out|deadline/i;

/**
 * Maps an Execution to our JobStatus. Done ⇔ `completionTime` is set; then success ⇔ every task
 * succeeded, cancelled ⇔ a task was cancelled (or the reason says so), otherwise failed. A failure
 * counts as a timeout when a condition says the task ran past its deadline: the train wrapper
 * checkpoints, so reconcile resumes such a run instead of failing it.
 */
export function executionStatus(execution: IExecution): JobStatus {
  const conditions = execution.conditions ?? [];
  const failedConditions = conditions.filter((c) => enumIs(c.state, CONDITION_FAILED, "CONDITION_FAILED"));
  const message = failedConditions.map((c) => c.message).find(Boolean) ?? conditions.map((c) => c.message).find(Boolean) ?? null;
  const finishedAt = toIso(execution.completionTime);
  if (!finishedAt) {
    const running = (execution.runningCount ?? 0) > 0 || Boolean(toIso(execution.startTime));
    return { state: running ? "running" : "pending", timedOut: false, message: null, finishedAt: null };
  }
  const taskCount = execution.taskCount ?? 1;
  if ((execution.succeededCount ?? 0) >= taskCount && (execution.failedCount ?? 0) === 0 && failedConditions.length === 0) {
    return { state: "succeeded", timedOut: false, message: null, finishedAt };
  }
  const cancelled =
    (execution.cancelledCount ?? 0) > 0 || conditions.some((c) => enumIs(c.executionReason, REASON_CANCELLED, "CANCELLED"));
  if (cancelled) return { state: "cancelled", timedOut: false, message, finishedAt };
  const timedOut = failedConditions.some((c) => TIMEOUT_TEXT.test(c.message ?? "") || TIMEOUT_TEXT.test(String(c.reason ?? "")));
  return { state: "failed", timedOut, message, finishedAt };
}

/** gax decodes enums as names by default, protobufjs as numbers: accept both. */
function enumIs(value: unknown, number: number, name: string): boolean {
  return value === number || value === name;
}

function toIso(ts: ITimestamp | null | undefined): string | null {
  if (!ts || ts.seconds === null || ts.seconds === undefined) return null;
  const seconds = Number(String(ts.seconds));
  if (!Number.isFinite(seconds) || seconds <= 0) return null;
  return new Date(seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)).toISOString();
}

function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

const RETRYABLE_GRPC = new Set([2, 4, 8, 10, 13, 14]);

export function mapRunError(err: unknown, action: string): Error {
  const code = grpcCode(err);
  const detail = err instanceof Error ? err.message : String(err);
  if (code === 7 || code === 16) {
    return new PermanentError("cloud_run_forbidden", `not allowed to ${action}: the function's service account needs roles/run.developer on the job (${detail})`, { cause: err });
  }
  if (code === 5) return new PermanentError("cloud_run_not_found", `cannot ${action}: not found (${detail})`, { cause: err });
  if (code === 3 || code === 9) return new PermanentError("cloud_run_refused", `cannot ${action}: ${detail}`, { cause: err });
  if (code !== undefined && RETRYABLE_GRPC.has(code)) return new TransientError(`Cloud Run: cannot ${action} (code ${code}): ${detail}`, { cause: err });
  const sysCode = (err as { code?: unknown } | null)?.code;
  if (typeof sysCode === "string" && /^E[A-Z]+$/.test(sysCode)) return new TransientError(`Cloud Run: cannot ${action} (${sysCode}): ${detail}`, { cause: err });
  return err instanceof Error ? err : new Error(detail);
}
