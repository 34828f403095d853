import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { JobLaunchRequest, JobName, JobRunner, JobStatus, JobTermination, Logger } from "../../ports.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const ENTRYPOINTS: Record<JobName, string> = {
  train: join(ROOT, "functions/jobs/train.ts"),
  evaluate: join(ROOT, "functions/jobs/evaluate.ts"),
  predict: join(ROOT, "functions/jobs/predict.ts"),
};

interface Tracked {
  child: ChildProcess | null;
  status: JobStatus;
}

/**
 * Runs the job entrypoints (the same files Cloud Run runs) as child processes. The execution name
 * is known before the child starts, as with RunJob. Exit states are also written to
 * `<workspace>/jobs/`, so a restarted runtime still knows how an execution ended; an execution it
 * knows nothing about reports `unknown`, which reconcile treats as lost and resumes. There are no
 * task retries inside an execution here (Cloud Run's max_retries): reconcile's resume of a failed
 * execution, bounded by TRAIN_MAX_ATTEMPTS, does that work locally.
 */
export class LocalJobRunner implements JobRunner {
  private executions = new Map<string, Tracked>();
  private counter = 0;
  readonly dir: string;

  constructor(
    private readonly options: {
      workspace: string;
      env: Record<string, string>;
      log: Logger;
      killGraceMs?: number;
      /** Other entrypoint files per job (tests); defaults to functions/jobs/<job>.ts. */
      entrypoints?: Partial<Record<JobName, string>>;
      /** Starts a task's timeout clock; returns its cancel (default: a real timer). */
      startTimeout?: (onTimeout: () => void, ms: number) => () => void;
    },
  ) {
    this.dir = join(options.workspace, "jobs");
  }

  async launch(request: JobLaunchRequest): Promise<{ executionName: string }> {
    const executionName = `local-${request.job}-${request.runId}-${Date.now().toString(36)}${(this.counter++).toString(36)}`;
    await mkdir(join(this.options.workspace, "logs", "jobs"), { recursive: true });
    await mkdir(this.dir, { recursive: true });
    const logFile = join(this.options.workspace, "logs", "jobs", `${executionName}.log`);
    const out = createWriteStream(logFile, { flags: "a" });
    const entrypoint = this.options.entrypoints?.[request.job] ?? ENTRYPOINTS[request.job];
    const child = spawn(process.execPath, ["--import", "tsx", entrypoint], {
      cwd: ROOT,
      env: { ...process.env, ...this.options.env, ...request.env, LOCAL_EXECUTION_NAME: executionName },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.pipe(out, { end: false });
    child.stderr?.pipe(out, { end: false });
    const tracked: Tracked = { child, status: { state: "running", timedOut: false, message: null, finishedAt: null } };
    this.executions.set(executionName, tracked);

    let cancelTimeout: (() => void) | null = null;
    if (request.timeoutSeconds) {
      const startTimeout = this.options.startTimeout ?? realTimeout;
      cancelTimeout = startTimeout(() => {
        if (tracked.child !== child) return; // already exited
        tracked.status.timedOut = true;
        this.terminate(child);
      }, request.timeoutSeconds * 1000);
    }
    child.on("error", (err) => {
      tracked.status = { state: "failed", timedOut: false, message: `could not start: ${err.message}`, finishedAt: new Date().toISOString(), termination: "refused" };
    });
    child.on("exit", (code, signal) => {
      cancelTimeout?.();
      const { timedOut, state: before } = tracked.status;
      tracked.child = null;
      const finishedAt = new Date().toISOString();
      if (before === "cancelled") {
        tracked.status = { state: "cancelled", timedOut: false, message: "cancelled", finishedAt, termination: "cancelled" };
      } else if (code === 0) {
        tracked.status = { state: "succeeded", timedOut: false, message: null, finishedAt };
      } else {
        // As Cloud Run reports it: the timeout first, then a signal (SIGKILL: killed, others: stopped
        // by the runtime), else the exit code (143 after SIGTERM reads as terminated in reconcile).
        const termination: JobTermination = timedOut ? "timeout" : signal === "SIGKILL" ? "killed" : signal ? "terminated" : "exited";
        tracked.status = {
          state: "failed",
          timedOut,
          message: timedOut ? "task timed out" : `exited with ${signal ?? `code ${code}`} (log: ${logFile})`,
          finishedAt,
          termination,
          ...(code !== null ? { exitCode: code } : {}),
        };
      }
      out.end();
      void writeFile(join(this.dir, `${executionName}.json`), JSON.stringify(tracked.status)).catch(() => undefined);
      this.options.log.info("job finished", { executionName, state: tracked.status.state, code, signal });
    });
    this.options.log.info("job started", { executionName, job: request.job, runId: request.runId, pid: child.pid });
    return { executionName };
  }

  async status(executionName: string): Promise<JobStatus> {
    const tracked = this.executions.get(executionName);
    if (tracked) return { ...tracked.status };
    const file = join(this.dir, `${executionName}.json`);
    if (existsSync(file)) {
      try {
        return JSON.parse(readFileSync(file, "utf8")) as JobStatus;
      } catch {
        /* fall through */
      }
    }
    return { state: "unknown", timedOut: false, message: "this runtime has no record of the execution", finishedAt: null, termination: "lost" };
  }

  async cancel(executionName: string): Promise<void> {
    const tracked = this.executions.get(executionName);
    if (tracked?.child) {
      tracked.status.state = "cancelled";
      this.terminate(tracked.child);
    }
  }

  /** SIGTERM every running job (the train wrapper checkpoints on SIGTERM) and wait for them. */
  async stopAll(timeoutMs = 15_000): Promise<void> {
    const children = [...this.executions.values()].map((t) => t.child).filter((c): c is ChildProcess => c !== null);
    await Promise.race([
      Promise.all(children.map((c) => new Promise<void>((resolve) => {
        c.once("exit", () => resolve());
        this.terminate(c);
      }))),
      new Promise((r) => setTimeout(r, timeoutMs)),
    ]);
  }

  runningCount(): number {
    return [...this.executions.values()].filter((t) => t.child !== null).length;
  }

  private terminate(child: ChildProcess): void {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const grace = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }, this.options.killGraceMs ?? 10_000);
    grace.unref();
  }
}

function realTimeout(onTimeout: () => void, ms: number): () => void {
  const timer = setTimeout(onTimeout, ms);
  return () => clearTimeout(timer);
}
