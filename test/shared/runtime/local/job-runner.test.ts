import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LocalJobRunner } from "../../../../shared/runtime/local/job-runner.ts";
import { silentLogger } from "../../../../shared/adapters/basics.ts";
import type { JobStatus } from "../../../../shared/ports.ts";

async function settled(runner: LocalJobRunner, name: string): Promise<JobStatus> {
  for (;;) {
    const s = await runner.status(name);
    if (s.state !== "running") return s;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("local job runner", () => {
  let ws: string;
  afterEach(() => rmSync(ws, { recursive: true, force: true }));

  function runnerWith(script: string, startTimeout?: (onTimeout: () => void, ms: number) => () => void): LocalJobRunner {
    const file = join(ws, "job.ts");
    writeFileSync(file, script);
    return new LocalJobRunner({ workspace: ws, env: { FROM_RUNTIME: "yes" }, log: silentLogger, killGraceMs: 500, entrypoints: { train: file, evaluate: file }, ...(startTimeout ? { startTimeout } : {}) });
  }

  it("passes the environment, records success, and keeps each execution's log", async () => {
    ws = mkdtempSync(join(tmpdir(), "jobs-"));
    const r = runnerWith(`console.log("run", process.env.RUN_ID, process.env.FROM_RUNTIME, process.env.LOCAL_EXECUTION_NAME);`);
    const { executionName } = await r.launch({ job: "train", runId: "run_1", env: { RUN_ID: "run_1" } });
    expect((await settled(r, executionName)).state).toBe("succeeded");
    expect(readFileSync(join(ws, "logs", "jobs", `${executionName}.log`), "utf8")).toBe(`run run_1 yes ${executionName}\n`);
  });

  it("reports a failing job with its exit code, and a restarted runtime still knows how it ended", async () => {
    ws = mkdtempSync(join(tmpdir(), "jobs-"));
    const r = runnerWith(`process.exit(3);`);
    const { executionName } = await r.launch({ job: "evaluate", runId: "eval_x", env: {} });
    const status = await settled(r, executionName);
    expect(status).toMatchObject({ state: "failed", timedOut: false, termination: "exited", exitCode: 3 });
    expect(status.message).toMatch(/exited with code 3/);
    await new Promise((r2) => setTimeout(r2, 100));
    const restarted = runnerWith(`process.exit(0);`);
    expect((await restarted.status(executionName)).state).toBe("failed");
    expect(await restarted.status("local-train-never-ran")).toMatchObject({ state: "unknown", termination: "lost" });
  });

  it("stops a job at its timeout (SIGTERM) and marks it timed out so reconcile resumes it", async () => {
    ws = mkdtempSync(join(tmpdir(), "jobs-"));
    // The timeout fires once the child has installed its handler (it says "ready"), however long
    // its boot takes on a loaded machine: the clock is ours, not wall time.
    let fire: (() => void) | null = null;
    let timeoutMs = 0;
    const r = runnerWith(`process.on("SIGTERM", () => { console.log("checkpointing"); process.exit(143); }); console.log("ready"); setInterval(() => {}, 1000);`, (onTimeout, ms) => {
      fire = onTimeout;
      timeoutMs = ms;
      return () => { fire = null; };
    });
    const { executionName } = await r.launch({ job: "train", runId: "run_slow", env: {}, timeoutSeconds: 5 });
    expect(timeoutMs).toBe(5000);
    const log = join(ws, "logs", "jobs", `${executionName}.log`);
    while (!(existsSync(log) && readFileSync(log, "utf8").includes("ready"))) await new Promise((r2) => setTimeout(r2, 50));
    expect((await r.status(executionName)).state).toBe("running");
    fire!();
    const status = await settled(r, executionName);
    expect(status).toMatchObject({ state: "failed", timedOut: true, message: "task timed out", termination: "timeout" });
    expect(readFileSync(join(ws, "logs", "jobs", `${executionName}.log`), "utf8")).toContain("checkpointing");
  });

  it("keeps a cancelled execution cancelled after the process exits", async () => {
    ws = mkdtempSync(join(tmpdir(), "jobs-"));
    const r = runnerWith(`console.log("up"); setInterval(() => {}, 1000);`);
    const { executionName } = await r.launch({ job: "evaluate", runId: "eval_c", env: {} });
    await r.cancel(executionName);
    while (r.runningCount() > 0) await new Promise((r2) => setTimeout(r2, 50));
    expect(r.runningCount()).toBe(0);
    expect(await r.status(executionName)).toMatchObject({ state: "cancelled", termination: "cancelled" });
  });
});
