import { PermanentError } from "../../errors.ts";
import { EXIT_SIGKILL, EXIT_SIGTERM, JOB_EXIT } from "../../messages/jobs.ts";
import type { JobStatus, JobTermination } from "../../ports.ts";

/**
 * What reconcile does with an execution of the train or evaluate job, decided from structured
 * status (termination kind, exit code; see `JobStatus`), never from message text alone:
 *
 * - resume: anything not known to be permanent — a timeout, host maintenance or preemption (GPU
 *   tasks are not live-migrated, run/docs/configuring/task-timeout), the memory limit (SIGKILL),
 *   transient errors that outlasted the task retries (exit 1), an execution nobody knows any more,
 *   a crash with an unknown exit code. The job restores its checkpoints; attempts are bounded by
 *   TRAIN_MAX_ATTEMPTS (training) or MAX_EVALUATION_ATTEMPTS.
 * - fail: the job refused its input (exit 2), the platform could not start the container (image
 *   missing, permission denied on the image or secrets), or someone cancelled the execution.
 */
export type ExecutionVerdict =
  | { outcome: "running" }
  | { outcome: "succeeded" }
  | { outcome: "resume"; reason: string }
  | { outcome: "fail"; reason: string };

/** Evaluations get this many executions before they fail (each with the job's own task retries). */
export const MAX_EVALUATION_ATTEMPTS = 3;

export function judgeExecution(status: JobStatus): ExecutionVerdict {
  switch (status.state) {
    case "pending":
    case "running":
      return { outcome: "running" };
    case "succeeded":
      return { outcome: "succeeded" };
    case "unknown":
      return { outcome: "resume", reason: withDetail("execution lost (the runtime has no record of it)", status) };
    case "cancelled":
      return { outcome: "fail", reason: withDetail("execution cancelled", status) };
    case "failed":
      return judgeFailure(status);
  }
}

function judgeFailure(status: JobStatus): ExecutionVerdict {
  const resume = (what: string): ExecutionVerdict => ({ outcome: "resume", reason: withDetail(what, status) });
  const fail = (what: string): ExecutionVerdict => ({ outcome: "fail", reason: withDetail(what, status) });
  switch (terminationOf(status)) {
    case "timeout":
      return resume("execution hit its time limit");
    case "terminated":
      return resume("execution stopped by the platform (host maintenance or preemption; GPU tasks are not live-migrated)");
    case "killed":
      return resume("execution killed (SIGKILL: the memory limit, or no exit within the grace period after SIGTERM)");
    case "lost":
      return resume("execution lost (the runtime has no record of it)");
    case "refused":
      return fail("the platform could not start the job's container");
    case "cancelled":
      return fail("execution cancelled");
    case "exited":
      if (status.exitCode === JOB_EXIT.badInput) return fail(`the job refused its input (exit ${JOB_EXIT.badInput})`);
      if (status.exitCode === JOB_EXIT.retry) return resume(`transient errors outlasted the task retries (exit ${JOB_EXIT.retry})`);
      return resume(status.exitCode === null || status.exitCode === undefined ? "the job failed" : `the job exited with code ${status.exitCode}`);
    case undefined:
      return resume("execution failed");
  }
}

/** The runner's termination, with 128+signal exit codes read as the signal they stand for. */
export function terminationOf(status: JobStatus): JobTermination | undefined {
  if (status.termination === "exited" || status.termination === undefined) {
    if (status.exitCode === EXIT_SIGTERM) return "terminated";
    if (status.exitCode === EXIT_SIGKILL) return "killed";
  }
  if (status.termination) return status.termination;
  return status.timedOut ? "timeout" : undefined;
}

function withDetail(what: string, status: JobStatus): string {
  const retries = status.retries ? ` after ${status.retries} task ${status.retries === 1 ? "retry" : "retries"}` : "";
  const detail = status.message ? `: ${status.message}` : "";
  return `${what}${retries}${detail}`;
}

// ---------------------------------------------------------------------------------------------
// Launch failures

/** Transient launch failures tolerated before the run or evaluation fails with an alert. */
export const LAUNCH_MAX_FAILURES = 8;
/** Back-off before the next launch: 30 s doubled per failure, at most 30 min (≈ 1.6 h in all). */
export const LAUNCH_BACKOFF = { baseSeconds: 30, capSeconds: 1800 } as const;

export type LaunchFailureVerdict = { outcome: "fail"; reason: string } | { outcome: "retry"; reason: string };

/**
 * A launch refused for good (PermanentError: the runner's message names the fix) fails at once;
 * anything else is retried by reconcile with back-off until LAUNCH_MAX_FAILURES failures.
 */
export function judgeLaunchFailure(err: unknown, failuresSoFar: number, describe: (err: unknown) => string): LaunchFailureVerdict {
  const reason = describe(err);
  if (err instanceof PermanentError) return { outcome: "fail", reason: `launch refused: ${reason}` };
  if (failuresSoFar + 1 >= LAUNCH_MAX_FAILURES) {
    return { outcome: "fail", reason: `launch failed ${failuresSoFar + 1} times in a row; giving up. Last error: ${reason}` };
  }
  return { outcome: "retry", reason: `launch failed (${failuresSoFar + 1}/${LAUNCH_MAX_FAILURES}), retrying after back-off: ${reason}` };
}
