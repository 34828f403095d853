import type { protos } from "@google-cloud/run";
import { PermanentError, TransientError } from "../../errors.ts";
import type { JobStatus, JobTermination } from "../../ports.ts";

type IExecution = protos.google.cloud.run.v2.IExecution;
type ITask = protos.google.cloud.run.v2.ITask;
type ICondition = protos.google.cloud.run.v2.ICondition;
type ITimestamp = protos.google.protobuf.ITimestamp;

/**
 * Cloud Run's Execution and Task resources → our JobStatus, and Admin API errors → errors that say
 * what happens next. Field meanings are those of the v2 protos shipped with @google-cloud/run
 * (build/protos/google/cloud/run/v2/{execution,task,condition}.proto).
 */

const CONDITION_FAILED = 3;
const REASON_CANCELLED = 3;
/** google.rpc.Code DEADLINE_EXCEEDED: a task attempt's status when it ran past its timeout. */
const RPC_DEADLINE_EXCEEDED = 4;
const SIGKILL = 9;
const TIMEOUT_TEXT = /time ?out|timed out|deadline/i;

/**
 * Condition.CommonReason values meaning the platform could not start the container at all (its
 * image, the permissions on it, the encryption key, secrets, the VPC): nothing the job can fix by
 * trying again.
 */
const REFUSED_REASONS: ReadonlyMap<string, number> = new Map([
  ["CONTAINER_MISSING", 6],
  ["CONTAINER_PERMISSION_DENIED", 7],
  ["CONTAINER_IMAGE_UNAUTHORIZED", 8],
  ["CONTAINER_IMAGE_AUTHORIZATION_CHECK_FAILED", 9],
  ["ENCRYPTION_KEY_PERMISSION_DENIED", 10],
  ["ENCRYPTION_KEY_CHECK_FAILED", 11],
  ["SECRETS_ACCESS_CHECK_FAILED", 12],
  ["VPC_NETWORK_NOT_FOUND", 17],
]);

/**
 * Maps an Execution (and, once it failed, its Tasks) to our JobStatus. Done ⇔ `completionTime` is
 * set; then success ⇔ every task succeeded, cancelled ⇔ a task was cancelled (or the reason says
 * so), otherwise failed, with the termination read from structured fields first:
 * - a condition reason in REFUSED_REASONS → `refused`;
 * - the failed task's last attempt (TaskAttemptResult): status DEADLINE_EXCEEDED → `timeout`;
 *   `term_signal` ("set to non-zero if the container is terminated by the system") 9 → `killed`,
 *   any other → `terminated`; else a non-zero `exit_code` → `exited` with that code;
 * - without task details, a condition worded as a timeout → `timeout`.
 * `retries` is the execution's `retriedCount` (task retries made inside it).
 */
export function executionStatus(execution: IExecution, tasks: readonly ITask[] = []): JobStatus {
  const conditions = execution.conditions ?? [];
  const failedConditions = conditions.filter((c) => enumIs(c.state, CONDITION_FAILED, "CONDITION_FAILED"));
  const finishedAt = toIso(execution.completionTime);
  if (!finishedAt) {
    const running = (execution.runningCount ?? 0) > 0 || Boolean(toIso(execution.startTime));
    return { state: running ? "running" : "pending", timedOut: false, message: null, finishedAt: null };
  }
  const taskCount = execution.taskCount ?? 1;
  if ((execution.succeededCount ?? 0) >= taskCount && (execution.failedCount ?? 0) === 0 && failedConditions.length === 0) {
    return { state: "succeeded", timedOut: false, message: null, finishedAt };
  }
  const retries = execution.retriedCount ?? 0;
  const failedTask = tasks.find((t) => (t.lastAttemptResult?.status?.code ?? 0) !== 0 || (t.lastAttemptResult?.exitCode ?? 0) !== 0 || (t.lastAttemptResult?.termSignal ?? 0) !== 0);
  const attempt = failedTask?.lastAttemptResult ?? null;
  const message = attempt?.status?.message || (failedConditions.map((c) => c.message).find(Boolean) ?? conditions.map((c) => c.message).find(Boolean) ?? null);

  const cancelled = (execution.cancelledCount ?? 0) > 0 || conditions.some((c) => enumIs(c.executionReason, REASON_CANCELLED, "CANCELLED"));
  if (cancelled) return { state: "cancelled", timedOut: false, message, finishedAt, termination: "cancelled", retries };

  let termination: JobTermination | undefined;
  let exitCode: number | null = null;
  if ([...conditions, ...tasks.flatMap((t) => t.conditions ?? [])].some(isRefusal)) {
    termination = "refused";
  } else if (attempt) {
    const signal = attempt.termSignal ?? 0;
    if (attempt.status?.code === RPC_DEADLINE_EXCEEDED) termination = "timeout";
    else if (signal === SIGKILL) termination = "killed";
    else if (signal !== 0) termination = "terminated";
    else if ((attempt.exitCode ?? 0) !== 0) {
      termination = "exited";
      exitCode = attempt.exitCode ?? null;
    }
  }
  if (!termination && failedConditions.some((c) => TIMEOUT_TEXT.test(c.message ?? "") || TIMEOUT_TEXT.test(String(c.reason ?? "")))) {
    termination = "timeout";
  }
  return {
    state: "failed",
    timedOut: termination === "timeout",
    message,
    finishedAt,
    ...(termination ? { termination } : {}),
    ...(exitCode !== null ? { exitCode } : {}),
    retries,
  };
}

function isRefusal(condition: ICondition): boolean {
  if (!enumIs(condition.state, CONDITION_FAILED, "CONDITION_FAILED")) return false;
  const reason = condition.reason;
  if (typeof reason === "string") return REFUSED_REASONS.has(reason);
  return typeof reason === "number" && [...REFUSED_REASONS.values()].includes(reason);
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

// ---------------------------------------------------------------------------------------------
// Errors

export function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/** gRPC codes worth a retry: UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED (rate), ABORTED, INTERNAL, UNAVAILABLE. */
const RETRYABLE_GRPC = new Set([2, 4, 8, 10, 13, 14]);
/** HTTP statuses (REST fallback) worth a retry: 408, 429, 5xx. */
const retryableHttp = (code: number) => code === 408 || code === 429 || (code >= 500 && code < 600);

function detailOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, " ").slice(0, 500);
}

/**
 * RESOURCE_EXHAUSTED is both "slow down" (rate limits: retry) and "quota used up" (a person must
 * raise it). The quota case carries a google.rpc.QuotaFailure detail (`violations`), an ErrorInfo
 * reason naming a quota, or at least says "quota".
 */
function isQuotaExhausted(err: unknown): boolean {
  const e = err as { statusDetails?: unknown; reason?: unknown; message?: unknown } | null;
  const details = Array.isArray(e?.statusDetails) ? (e.statusDetails as unknown[]) : [];
  if (details.some((d) => Array.isArray((d as { violations?: unknown } | null)?.violations))) return true;
  if (typeof e?.reason === "string" && /QUOTA/i.test(e.reason)) return true;
  return /quota/i.test(typeof e?.message === "string" ? e.message : "");
}

/** Errors of reading, listing or cancelling: permanent ones name the code, transient ones retry. */
export function mapRunError(err: unknown, action: string): Error {
  const code = grpcCode(err);
  const detail = detailOf(err);
  if (code === 7 || code === 16 || code === 403 || code === 401) {
    return new PermanentError("cloud_run_forbidden", `not allowed to ${action}: the caller needs roles/run.viewer on the job (${detail})`, { cause: err });
  }
  if (code === 5 || code === 404) return new PermanentError("cloud_run_not_found", `cannot ${action}: not found (${detail})`, { cause: err });
  if (code === 3 || code === 9 || code === 400) return new PermanentError("cloud_run_refused", `cannot ${action}: ${detail}`, { cause: err });
  if (code !== undefined && (RETRYABLE_GRPC.has(code) || retryableHttp(code))) return new TransientError(`Cloud Run: cannot ${action} (code ${code}): ${detail}`, { cause: err });
  const sysCode = (err as { code?: unknown } | null)?.code;
  if (typeof sysCode === "string" && /^E[A-Z]+$/.test(sysCode)) return new TransientError(`Cloud Run: cannot ${action} (${sysCode}): ${detail}`, { cause: err });
  return err instanceof Error ? err : new Error(detail);
}

export interface LaunchContext {
  /** The Cloud Run job's name. */
  job: string;
  /** The config variable that names it (TRAIN_JOB, EVALUATE_JOB). */
  setting: string;
  project: string;
  region: string;
  /** The launching service account, when known. */
  principal: string | null;
}

/**
 * A failed RunJob → PermanentError whose message names the fix (the roles infra/iam.tf grants
 * launchers, the job to deploy, the quota to raise), or TransientError for what may pass.
 */
export function mapLaunchError(err: unknown, ctx: LaunchContext): Error {
  const code = grpcCode(err);
  const detail = detailOf(err);
  const who = ctx.principal ?? "the launching function's service account";
  const where = `job ${ctx.job} (project ${ctx.project}, region ${ctx.region})`;
  if (code === 7 || code === 403) {
    return new PermanentError(
      "cloud_run_forbidden",
      `permission denied running ${where}: grant ${who} roles/run.jobsExecutorWithOverrides (run with env and timeout overrides) and roles/run.viewer on the job — infra/iam.tf grants both (launcher, launcher_viewer) to the functions listed in job_launchers (${detail})`,
      { cause: err },
    );
  }
  if (code === 16 || code === 401) {
    return new PermanentError("cloud_run_unauthenticated", `credentials refused running ${where}: check that ${who} exists and is enabled (${detail})`, { cause: err });
  }
  if (code === 5 || code === 404) {
    return new PermanentError(
      "cloud_run_job_not_found",
      `${where} not found: deploy the job ${ctx.job} in ${ctx.region} (terraform apply in infra/), or set ${ctx.setting} to the deployed job's name (${detail})`,
      { cause: err },
    );
  }
  if ((code === 8 || code === 429) && isQuotaExhausted(err)) {
    return new PermanentError(
      "cloud_run_quota",
      `quota exhausted running ${where}: request Cloud Run GPU quota (NVIDIA L4, without zonal redundancy) for ${ctx.region} in the console's Quotas page, or lower the jobs' GPU use (${detail})`,
      { cause: err },
    );
  }
  if (code === 3 || code === 400) {
    return new PermanentError("cloud_run_invalid", `Cloud Run rejected the request to run ${where}: ${detail} — check the overrides (env names, a task timeout of at most 3600 s with a GPU)`, { cause: err });
  }
  if (code === 9) {
    return new PermanentError("cloud_run_precondition", `${where} cannot run now: ${detail} — check the job's last deployment (gcloud run jobs describe ${ctx.job} --region ${ctx.region})`, { cause: err });
  }
  return mapRunError(err, `run ${where}`);
}
