import type { protos } from "@google-cloud/run";
import type { CloudRunApi } from "../../shared/adapters/gcp/cloud-run.ts";
import { JOB_MAX_RETRIES } from "../../shared/messages/jobs.ts";

type IExecution = protos.google.cloud.run.v2.IExecution;
type ITask = protos.google.cloud.run.v2.ITask;
type IRunJobRequest = protos.google.cloud.run.v2.IRunJobRequest;
type ICondition = protos.google.cloud.run.v2.ICondition;

export interface RecordedLaunch {
  /** Full job path: projects/<p>/locations/<r>/jobs/<job>. */
  job: string;
  /** Short job name (the last path segment). */
  jobName: string;
  env: Record<string, string>;
  timeoutSeconds: number | null;
  executionName: string;
}

/**
 * How a task attempt ends, and what Cloud Run reports for it. Sources, per case:
 * - every case: the task's `last_attempt_result` is a TaskAttemptResult {status (google.rpc.Status),
 *   exit_code, term_signal}; "At most one of exit_code or term_signal will be set", term_signal "is
 *   set to non-zero if the container is terminated by the system" (@google-cloud/run
 *   build/protos/google/cloud/run/v2/task.proto). A failed attempt is retried "up to the maxRetries
 *   limit" (task.proto `retried`; run/docs/configuring/max-retries: per task, default 3, 0–10), and
 *   the execution counts them in `retried_count` (execution.proto).
 * - `maintenance`: "Tasks that use GPUs cannot be live migrated and are terminated instead"
 *   (run/docs/configuring/task-timeout, "Maintenance events"); termination means SIGTERM, then
 *   SIGKILL after 10 s (run/docs/container-contract). The train wrapper exits 143 on SIGTERM, so
 *   the attempt reports exit_code 143; a container that ignores SIGTERM is killed (term_signal 9);
 *   `handledSigterm: false` models one that dies of the SIGTERM itself (term_signal 15).
 *   [inference] the status code/message Cloud Run writes for it is not documented: UNAVAILABLE.
 * - `timeout`: "If the task attempt does not complete within this time, it will be stopped"
 *   (run/docs/configuring/task-timeout). [inference] status DEADLINE_EXCEEDED (google.rpc.Code 4,
 *   "the deadline expired before the operation could complete") with the wording the console shows.
 * - `oom`: "Cloud Run instances that exceed their allowed memory limit are terminated"
 *   (run/docs/configuring/jobs/memory-limits); the kernel's OOM kill is SIGKILL → term_signal 9.
 * - `exit`: the container exited non-zero by itself → exit_code; when the last attempt fails so,
 *   the execution's condition reason is NON_ZERO_EXIT_CODE ("A task reached its retry limit and
 *   the last attempt failed due to the user container exiting with a non-zero exit code",
 *   condition.proto ExecutionReason).
 */
export type AttemptEnd =
  | { kind: "maintenance"; handledSigterm?: boolean }
  | { kind: "timeout" }
  | { kind: "oom" }
  | { kind: "exit"; code: number; message?: string };

/** An injected API error: a gRPC code, and optionally the details gax decodes (QuotaFailure…). */
export interface InjectedError {
  code: number;
  message?: string;
  statusDetails?: unknown[];
  reason?: string;
}

/**
 * An in-memory Cloud Run Admin API (the calls `CloudRunJobRunner` makes), shaped like the real
 * responses: `runJob` resolves with an operation whose `metadata` is the new Execution;
 * executions and tasks carry counts, timestamps and conditions with enum *names*, as gax decodes
 * them; each execution has one task (task_count 1, as infra/jobs.tf deploys both jobs).
 */
export class FakeCloudRun implements CloudRunApi {
  readonly launches: RecordedLaunch[] = [];
  readonly executions = new Map<string, IExecution>();
  readonly tasks = new Map<string, ITask>();
  readonly cancelled: string[] = [];
  /** Called after each launch (the emulator test uses it to "run" the job). */
  onLaunch: ((launch: RecordedLaunch) => void) | null = null;
  /** Called when Cloud Run retries the task inside the same execution (attempt is 0-based). */
  onRetry: ((launch: RecordedLaunch, attempt: number) => void) | null = null;
  /** `max_retries` per job (short name); the deployed values by default. */
  readonly maxRetries: Record<string, number>;
  private failures: InjectedError[] = [];
  private counter = 0;

  constructor(options: { maxRetries?: Record<string, number> } = {}) {
    this.maxRetries = { ...JOB_MAX_RETRIES, ...options.maxRetries };
  }

  /** The next calls reject with these gRPC codes, in order (0, gRPC's OK, lets that call through). */
  failNext(...codes: number[]): void {
    this.failures.push(...codes.map((code) => ({ code, message: `injected gRPC error ${code}` })));
  }

  /** The next call rejects with this error (code, message and decoded status details). */
  failNextWith(error: InjectedError): void {
    this.failures.push(error);
  }

  private maybeFail(): void {
    const failure = this.failures.shift();
    if (failure && failure.code !== 0) {
      throw Object.assign(new Error(`${failure.code} ${failure.message ?? `injected gRPC error ${failure.code}`}`), {
        code: failure.code,
        ...(failure.statusDetails ? { statusDetails: failure.statusDetails } : {}),
        ...(failure.reason ? { reason: failure.reason } : {}),
      });
    }
  }

  async runJob(request: IRunJobRequest): Promise<[{ name: string; metadata: IExecution }]> {
    this.maybeFail();
    const job = request.name ?? "";
    const jobName = job.split("/").pop() ?? "";
    const shortName = `${jobName}-${(++this.counter).toString().padStart(5, "0")}`;
    const executionName = `${job}/executions/${shortName}`;
    const container = request.overrides?.containerOverrides?.[0];
    const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name ?? "", e.value ?? ""]));
    const timeout = request.overrides?.timeout?.seconds;
    const execution: IExecution = {
      name: executionName,
      job: jobName,
      taskCount: request.overrides?.taskCount ?? 1,
      createTime: timestamp(new Date()),
      runningCount: 0,
      succeededCount: 0,
      failedCount: 0,
      cancelledCount: 0,
      retriedCount: 0,
      conditions: [{ type: "Completed", state: "CONDITION_PENDING" as never }],
    };
    this.executions.set(executionName, execution);
    this.tasks.set(executionName, { name: `${executionName}/tasks/${shortName}-task0`, index: 0, retried: 0, maxRetries: this.maxRetries[jobName] ?? 3, execution: executionName });
    const launch: RecordedLaunch = { job, jobName, env, timeoutSeconds: timeout === undefined || timeout === null ? null : Number(timeout), executionName };
    this.launches.push(launch);
    this.onLaunch?.(launch);
    return [{ name: `projects/p/locations/r/operations/${this.counter}`, metadata: execution }];
  }

  async getExecution(request: { name: string }): Promise<[IExecution]> {
    this.maybeFail();
    const execution = this.executions.get(request.name);
    if (!execution) throw Object.assign(new Error(`5 NOT_FOUND: execution ${request.name} not found`), { code: 5 });
    return [execution];
  }

  async listTasks(request: { parent: string }): Promise<[ITask[]]> {
    this.maybeFail();
    const task = this.tasks.get(request.parent);
    if (!task) throw Object.assign(new Error(`5 NOT_FOUND: execution ${request.parent} not found`), { code: 5 });
    return [[task]];
  }

  async cancelExecution(request: { name: string }): Promise<unknown> {
    this.maybeFail();
    const execution = this.executions.get(request.name);
    if (!execution) throw Object.assign(new Error(`5 NOT_FOUND: execution ${request.name} not found`), { code: 5 });
    this.cancelled.push(request.name);
    this.finish(request.name, { cancelledCount: 1, conditions: [{ type: "Completed", state: "CONDITION_FAILED" as never, executionReason: "CANCELLED" as never, message: "Execution was cancelled" }] });
    return [{}];
  }

  start(name: string): void {
    this.update(name, { startTime: timestamp(new Date()), runningCount: 1 });
  }

  succeed(name: string): void {
    this.updateTask(name, { lastAttemptResult: { status: { code: 0 }, exitCode: 0 } });
    this.finish(name, { succeededCount: 1, conditions: [{ type: "Completed", state: "CONDITION_SUCCEEDED" as never, message: "Execution completed successfully in 1m." }] });
  }

  /**
   * Fails the execution for good (no retries left): `timedOut` ends the last attempt on its
   * timeout, otherwise the container exited with `exitCode` (default 1).
   */
  fail(name: string, options: { timedOut?: boolean; message?: string; exitCode?: number } = {}): void {
    const end: AttemptEnd = options.timedOut ? { kind: "timeout" } : { kind: "exit", code: options.exitCode ?? 1, ...(options.message ? { message: options.message } : {}) };
    this.finishFailed(name, end, options.message);
  }

  /**
   * Ends the task's current attempt. While the job's max_retries allow, Cloud Run starts another
   * attempt of the same task in the same execution (`retried` and `retriedCount` go up, onRetry is
   * called) and this returns "retried"; otherwise the execution fails with this attempt's result.
   */
  endAttempt(name: string, end: AttemptEnd): "retried" | "failed" {
    const task = this.tasks.get(name);
    if (!task) throw new Error(`fake: no execution ${name}`);
    const retried = task.retried ?? 0;
    if (retried < (task.maxRetries ?? 0)) {
      this.updateTask(name, { retried: retried + 1, lastAttemptResult: attemptResult(end) });
      this.update(name, { retriedCount: (this.executions.get(name)?.retriedCount ?? 0) + 1 });
      const launch = this.launches.find((l) => l.executionName === name);
      if (launch) this.onRetry?.(launch, retried + 1);
      return "retried";
    }
    this.finishFailed(name, end);
    return "failed";
  }

  /**
   * The platform could not start the container: a FAILED condition with a CommonReason such as
   * CONTAINER_MISSING ("The container image path is incorrect") or CONTAINER_PERMISSION_DENIED
   * ("Insufficient permissions on the container image"), condition.proto.
   */
  refuse(name: string, reason: "CONTAINER_MISSING" | "CONTAINER_PERMISSION_DENIED" | "SECRETS_ACCESS_CHECK_FAILED", message: string): void {
    this.finish(name, {
      failedCount: 1,
      conditions: [
        { type: "Completed", state: "CONDITION_FAILED" as never, message },
        { type: "ResourcesAvailable", state: "CONDITION_FAILED" as never, reason: reason as never, message },
      ],
    });
  }

  private finishFailed(name: string, end: AttemptEnd, conditionMessage?: string): void {
    const result = attemptResult(end);
    this.updateTask(name, { lastAttemptResult: result });
    const task = this.tasks.get(name)!;
    const condition: ICondition = {
      type: "Completed",
      state: "CONDITION_FAILED" as never,
      message: conditionMessage ?? `Task ${task.name?.split("/").pop() ?? "task0"} failed with message: ${result.status?.message ?? ""}`,
      ...(end.kind === "exit" ? { executionReason: "NON_ZERO_EXIT_CODE" as never } : {}),
    };
    this.finish(name, { failedCount: 1, conditions: [condition] });
  }

  private finish(name: string, patch: Partial<IExecution>): void {
    this.update(name, { runningCount: 0, completionTime: timestamp(new Date()), ...patch });
  }

  private update(name: string, patch: Partial<IExecution>): void {
    const execution = this.executions.get(name);
    if (!execution) throw new Error(`fake: no execution ${name}`);
    this.executions.set(name, { ...execution, ...patch });
  }

  private updateTask(name: string, patch: Partial<ITask>): void {
    const task = this.tasks.get(name);
    if (!task) throw new Error(`fake: no execution ${name}`);
    this.tasks.set(name, { ...task, ...patch });
  }
}

function attemptResult(end: AttemptEnd): protos.google.cloud.run.v2.ITaskAttemptResult {
  switch (end.kind) {
    case "maintenance":
      return end.handledSigterm === false
        ? { status: { code: 14, message: "The task was terminated by a host maintenance event." }, termSignal: 15 }
        : { status: { code: 14, message: "The task was terminated by a host maintenance event." }, exitCode: 143 };
    case "timeout":
      return { status: { code: 4, message: "The configured timeout was reached." }, exitCode: 143 };
    case "oom":
      return { status: { code: 8, message: "Memory limit of 16384 MiB exceeded with 16411 MiB used." }, termSignal: 9 };
    case "exit":
      return { status: { code: 2, message: end.message ?? "The container exited with an error." }, exitCode: end.code };
  }
}

function timestamp(date: Date): { seconds: string; nanos: number } {
  // gax decodes int64 seconds as strings.
  return { seconds: String(Math.floor(date.getTime() / 1000)), nanos: (date.getTime() % 1000) * 1e6 };
}
