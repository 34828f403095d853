import type { protos } from "@google-cloud/run";
import type { CloudRunApi } from "../../shared/adapters/gcp/cloud-run.ts";

type IExecution = protos.google.cloud.run.v2.IExecution;
type IRunJobRequest = protos.google.cloud.run.v2.IRunJobRequest;

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
 * An in-memory Cloud Run Admin API (the three calls `CloudRunJobRunner` makes), shaped like the
 * real responses: `runJob` resolves with an operation whose `metadata` is the new Execution;
 * executions carry counts, timestamps and conditions with enum *names*, as gax decodes them.
 */
export class FakeCloudRun implements CloudRunApi {
  readonly launches: RecordedLaunch[] = [];
  readonly executions = new Map<string, IExecution>();
  readonly cancelled: string[] = [];
  /** Called after each launch (the emulator test uses it to "run" the job). */
  onLaunch: ((launch: RecordedLaunch) => void) | null = null;
  private failures: { code: number; message: string }[] = [];
  private counter = 0;

  /** The next calls reject with these gRPC codes, in order. */
  failNext(...codes: number[]): void {
    this.failures.push(...codes.map((code) => ({ code, message: `injected gRPC error ${code}` })));
  }

  private maybeFail(): void {
    const failure = this.failures.shift();
    if (failure) throw Object.assign(new Error(failure.message), { code: failure.code });
  }

  async runJob(request: IRunJobRequest): Promise<[{ name: string; metadata: IExecution }]> {
    this.maybeFail();
    const job = request.name ?? "";
    const jobName = job.split("/").pop() ?? "";
    const executionName = `${job}/executions/${jobName}-${(++this.counter).toString().padStart(5, "0")}`;
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
      conditions: [{ type: "Completed", state: "CONDITION_PENDING" as never }],
    };
    this.executions.set(executionName, execution);
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
    this.finish(name, { succeededCount: 1, conditions: [{ type: "Completed", state: "CONDITION_SUCCEEDED" as never, message: "Execution completed successfully in 1m." }] });
  }

  /** Fails the execution; `timedOut` words the condition as Cloud Run does for a task past its timeout. */
  fail(name: string, options: { timedOut?: boolean; message?: string } = {}): void {
    const message = options.message ?? (options.timedOut
      ? "Task train-abc-task0 failed with message: The configured timeout was reached."
      : "Task train-abc-task0 failed with message: The container exited with an error.");
    this.finish(name, {
      failedCount: 1,
      conditions: [{ type: "Completed", state: "CONDITION_FAILED" as never, executionReason: options.timedOut ? undefined : ("NON_ZERO_EXIT_CODE" as never), message }],
    });
  }

  private finish(name: string, patch: Partial<IExecution>): void {
    this.update(name, { runningCount: 0, completionTime: timestamp(new Date()), ...patch });
  }

  private update(name: string, patch: Partial<IExecution>): void {
    const execution = this.executions.get(name);
    if (!execution) throw new Error(`fake: no execution ${name}`);
    this.executions.set(name, { ...execution, ...patch });
  }
}

function timestamp(date: Date): { seconds: string; nanos: number } {
  // gax decodes int64 seconds as strings.
  return { seconds: String(Math.floor(date.getTime() / 1000)), nanos: (date.getTime() % 1000) * 1e6 };
}
