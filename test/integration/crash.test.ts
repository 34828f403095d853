import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../shared/config/load.ts";
import { FAILPOINTS, type FailpointName } from "../../shared/core/failpoints.ts";
import { createPgDb } from "../../shared/adapters/db/pg.ts";
import { createPgliteDb } from "../../shared/adapters/db/pglite.ts";
import { LocalObjectStore } from "../../shared/adapters/store/local.ts";
import type { StatusSnapshot } from "../../shared/core/status/snapshot.ts";
import type { Db } from "../../shared/ports.ts";
import { checkLoopInvariants } from "../helpers/loop-invariants.ts";
import { testDbKind } from "../helpers/db.ts";

/**
 * Crash safety: the local runtime runs as a child process (`mlops start --demo`) with every
 * failpoint armed; at the first one it reaches it kills itself with SIGKILL — after a commit and
 * before its publish or acknowledgement, after an object write and before its commit, inside
 * register, poll, threshold, training completion, evaluation launch and promotion. The test
 * restarts it with the failpoints that have not fired yet, again and again, until all have fired,
 * then lets it settle and checks the loop converged with nothing lost, duplicated or mixed up.
 */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PRODUCTS = 8;

const ENV: Record<string, string> = {
  LOG_LEVEL: "warn",
  THRESHOLD_N: String(PRODUCTS),
  THRESHOLD_M: String(PRODUCTS),
  THRESHOLD_T_HOURS: "24",
  EVAL_SPLIT_PERCENT: "40",
  POLL_INTERVAL_SECONDS: "0.5",
  RECONCILE_INTERVAL_SECONDS: "2",
  STUCK_AFTER_SECONDS: "10",
  REGISTER_BATCH_WINDOW_SECONDS: "2",
  TRAIN_PARAMS: JSON.stringify({ epochs: 4, samplesPerImage: 800 }),
  PROMOTION_POLICY: JSON.stringify({ min_eval_items: 1, primary_metric: { name: "mIoU", threshold: 0.05 } }),
};

/** Some places are hit many times: crash at a later hit, in the middle of a batch. */
const HIT: Partial<Record<FailpointName, number>> = { "delivery.handled_unacked": 5, "poll.label_committed": 2, "transact.committed": 3 };

describe(`crash safety of the local runtime (${testDbKind})`, () => {
  const workspace = mkdtempSync(join(tmpdir(), "mlops-crash-"));
  let databaseUrl: string | undefined;
  let dropDatabase: (() => Promise<void>) | null = null;
  const children: ChildProcess[] = [];

  afterAll(async () => {
    // Jobs the killed runtimes left behind are in the same process groups.
    for (const c of children) killGroup(c);
    await dropDatabase?.();
    rmSync(workspace, { recursive: true, force: true });
  });

  it("converges after a SIGKILL at every failpoint, with nothing lost or duplicated", async () => {
    if (process.env.DATABASE_URL) ({ url: databaseUrl, drop: dropDatabase } = await freshDatabase(process.env.DATABASE_URL));
    const env = { ...ENV, MLOPS_WORKSPACE: workspace, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) };
    const fired = () => (existsSync(join(workspace, "failpoints.fired")) ? readFileSync(join(workspace, "failpoints.fired"), "utf8").split("\n").filter(Boolean) : []);

    let restarts = 0;
    for (;;) {
      const remaining = FAILPOINTS.filter((f) => !fired().includes(f));
      if (remaining.length === 0) break;
      const spec = remaining.map((f) => (HIT[f] ? `${f}@${HIT[f]}` : f)).join(",");
      const child = startRuntime({ ...env, MLOPS_FAILPOINTS: spec });
      children.push(child);
      const exit = await waitForExit(child, 600_000);
      expect(exit.signal, `the runtime should have died at a failpoint (fired so far: ${fired().join(", ")})\n${exit.output}`).toBe("SIGKILL");
      expect(fired().length, "one more failpoint fired").toBe(FAILPOINTS.length - remaining.length + 1);
      restarts++;
    }
    expect(restarts).toBe(FAILPOINTS.length);

    // A last start without failpoints: the loop must finish by itself.
    const child = startRuntime(env);
    children.push(child);
    const url = await dashboardUrl(child);
    const settled = await waitForSettled(url, 600_000);
    child.kill("SIGTERM");
    await waitForExit(child, 60_000);

    const db = await openDb(databaseUrl, workspace);
    try {
      const config = loadConfig({ ...env, DATABASE_URL: undefined });
      const check = await checkLoopInvariants(db, new LocalObjectStore(join(workspace, "buckets")), config);
      expect(check.problems, JSON.stringify(check.counts)).toEqual([]);
      // The demo's products, its three corrupt uploads and its byte-identical copy of one product.
      expect(check.counts.items).toBe(PRODUCTS + 4);
      const duplicates = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM items WHERE state = 'duplicate'`);
      expect(duplicates.rows[0]?.n).toBe(1);
      expect(check.counts.datasetVersions).toBeGreaterThanOrEqual(1);
      expect(settled.aliases.map((a) => a.alias)).toContain("staging");
      const frozen = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM items WHERE state = 'in_dataset'`);
      expect(frozen.rows[0]?.n).toBe(PRODUCTS);
    } finally {
      await db.close();
    }
  }, 900_000);
});

function startRuntime(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ["bin/mlops.js", "start", "--demo", "--products", String(PRODUCTS), "--port", "0"], {
    cwd: ROOT,
    // Its own process group, so the jobs a killed runtime leaves behind can be cleaned up.
    detached: true,
    env: { ...process.env, DATABASE_URL: undefined, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-8000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  (child as ChildProcess & { output: () => string }).output = () => output;
  return child;
}

function outputOf(child: ChildProcess): string {
  return (child as ChildProcess & { output?: () => string }).output?.() ?? "";
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode, output: outputOf(child) });
      return;
    }
    const timer = setTimeout(() => {
      killGroup(child);
      reject(new Error(`the runtime did not stop within ${timeoutMs} ms:\n${outputOf(child)}`));
    }, timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output: outputOf(child) });
    });
  });
}

async function dashboardUrl(child: ChildProcess): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const m = /Dashboard: (http:\/\/\S+)/.exec(outputOf(child));
    if (m) return m[1]!;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the runtime exited:\n${outputOf(child)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no dashboard URL:\n${outputOf(child)}`);
}

/** Settled: staging holds a model, every item is past annotation, no run or evaluation in flight. */
async function waitForSettled(url: string, timeoutMs: number): Promise<StatusSnapshot> {
  const deadline = Date.now() + timeoutMs;
  let last: StatusSnapshot | null = null;
  while (Date.now() < deadline) {
    last = (await (await fetch(new URL("api/status", url))).json()) as StatusSnapshot;
    const busy = ["seen", "normalised", "registered", "annotated", "rejected", "accepted"].reduce((sum, s) => sum + (last!.itemsByState[s as keyof StatusSnapshot["itemsByState"]] ?? 0), 0);
    const inFlight = last.trainingRuns.some((r) => r.state === "launching" || r.state === "running") || last.evaluations.some((e) => e.state === "launching" || e.state === "running");
    if (busy === 0 && !inFlight && last.aliases.some((a) => a.alias === "staging")) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the loop did not settle: ${JSON.stringify({ items: last?.itemsByState, runs: last?.trainingRuns, evaluations: last?.evaluations, aliases: last?.aliases })}`);
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    /* already gone */
  }
}

async function freshDatabase(adminUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `crash_${randomBytes(5).toString("hex")}`;
  const admin = createPgDb({ connectionString: adminUrl, max: 1 });
  await admin.exec(`CREATE DATABASE ${name}`);
  await admin.close();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const again = createPgDb({ connectionString: adminUrl, max: 1 });
      await again.exec(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await again.close();
    },
  };
}

async function openDb(url: string | undefined, workspace: string): Promise<Db> {
  return url ? createPgDb({ connectionString: url, max: 2 }) : createPgliteDb(join(workspace, "pgdata"));
}
