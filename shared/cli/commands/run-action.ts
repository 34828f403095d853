import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { StatusSnapshot } from "../../core/status/snapshot.ts";
import { readStatusSnapshot } from "../../db/queries/status.ts";
import { DEFAULT_DEMO, DEMO_ENV, DemoDriver } from "../../demo/driver.ts";
import { startLocalRuntime, type LocalRuntime } from "../../runtime/local.ts";
import { clearRuntimeInfo, runningRuntime, writeRuntimeInfo } from "../workspace.ts";
import { CliError } from "../errors.ts";

export interface RunOptions {
  demo?: boolean;
  port?: string;
  workspace?: string;
  products?: string;
  json?: boolean;
  timeout?: string;
}

/** `mlops start [--demo]` (declared in run.ts): the local runtime until Ctrl-C. */
export async function startAction(opts: RunOptions): Promise<void> {
  const env = runEnv(opts);
  const already = runningRuntime(resolve(env.MLOPS_WORKSPACE ?? ".mlops"));
  if (already) throw new CliError(`a runtime already runs on this workspace (pid ${already.pid}) at ${already.url ?? "?"}`);
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const runtime = await startLocalRuntime({ env, say });
  writeRuntimeInfo(runtime.config.workspace, { pid: process.pid, url: runtime.url, startedAt: new Date().toISOString() });
  const demo = opts.demo ? new DemoDriver({ ...runtime.deps, store: runtime.store, say }, { ...DEFAULT_DEMO, products: Number(opts.products) }) : null;
  await demo?.start();
  process.stdout.write(`Dashboard: ${runtime.url}\n`);
  say(`workspace ${runtime.config.workspace}${opts.demo ? " · demo data on" : ""} · upload with \`npx mlops upload <file>\` · Ctrl-C stops`);
  const progress = setInterval(() => void progressLine(runtime).then(say).catch(() => undefined), 5000);
  await waitForSignal(async () => {
    clearInterval(progress);
    say("stopping… (waiting for in-flight work; jobs checkpoint and resume on the next start)");
    demo?.stop();
    await runtime.stop();
    clearRuntimeInfo(runtime.config.workspace);
    say("stopped");
  });
}

/** `mlops demo [--json]` (declared in run.ts): the demo until the first promotion. */
export async function demoAction(opts: RunOptions): Promise<void> {
  const started = Date.now();
  const env = runEnv({ ...opts, workspace: opts.workspace ?? mkdtempSync(join(tmpdir(), "mlops-demo-")), demo: true, port: "0" });
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const runtime = await startLocalRuntime({ env, say, serve: false });
  const demo = new DemoDriver({ ...runtime.deps, store: runtime.store, say }, { ...DEFAULT_DEMO, products: Number(opts.products) });
  await demo.start();
  say(`demo workspace ${runtime.config.workspace}`);
  const deadline = started + Number(opts.timeout ?? 300) * 1000;
  let snapshot: StatusSnapshot = await readStatusSnapshot(runtime.deps.db);
  let last = "";
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    snapshot = await readStatusSnapshot(runtime.deps.db);
    const line = progressText(snapshot);
    if (line !== last) say(line);
    last = line;
    if (snapshot.aliasHistory.length > 0) break;
  }
  demo.stop();
  const summary = await demoSummary(runtime, snapshot, Date.now() - started);
  await runtime.stop();
  if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  if (summary.promotions.length === 0) process.exitCode = 1;
}

function runEnv(opts: RunOptions): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  if (opts.demo) for (const [k, v] of Object.entries(DEMO_ENV)) env[k] ??= v;
  if (opts.workspace) env.MLOPS_WORKSPACE = opts.workspace;
  if (opts.port !== undefined) env.PORT = opts.port;
  return env;
}

export interface DemoSummary {
  itemsIngested: number;
  itemsAccepted: number;
  itemsRejected: number;
  itemsFailed: number;
  datasetVersions: number;
  trainingRuns: number;
  evaluations: number;
  promotions: { model: string; alias: string; metric: string | null; value: number | null; evaluationId: string | null; report: string | null }[];
  workspace: string;
  elapsedMs: number;
}

async function demoSummary(runtime: LocalRuntime, s: StatusSnapshot, elapsedMs: number): Promise<DemoSummary> {
  const evaluations = new Map(s.evaluations.map((e) => [e.id, e]));
  return {
    itemsIngested: s.itemsTotal,
    itemsAccepted: s.funnel.accepted,
    itemsRejected: s.funnel.rejected,
    itemsFailed: s.itemsByState.failed,
    datasetVersions: s.datasetVersions.length,
    trainingRuns: s.trainingRuns.length,
    evaluations: s.evaluations.length,
    promotions: [...s.aliasHistory].reverse().map((h) => {
      const e = h.evaluationId ? evaluations.get(h.evaluationId) : undefined;
      const report = e?.summaryUri ?? h.reportUri;
      return {
        model: h.modelId,
        alias: h.alias,
        metric: e?.primaryMetric ?? null,
        value: e?.candidateValue ?? null,
        evaluationId: h.evaluationId,
        report: report ? runtime.store.pathOf(report) : null,
      };
    }),
    workspace: runtime.config.workspace,
    elapsedMs,
  };
}

async function progressLine(runtime: LocalRuntime): Promise<string> {
  return progressText(await readStatusSnapshot(runtime.deps.db));
}

function progressText(s: StatusSnapshot): string {
  const runs = s.trainingRuns.map((r) => r.state);
  const staging = s.aliases.find((a) => a.alias === "staging");
  return [
    `items ${s.itemsTotal} (registered ${s.funnel.registered}, accepted ${s.funnel.accepted}, rejected ${s.funnel.rejected}, failed ${s.itemsByState.failed})`,
    `datasets ${s.datasetVersions.length}`,
    `runs ${runs.length}${runs.length ? ` [${runs.join(",")}]` : ""}`,
    `evaluations ${s.evaluations.length}`,
    `staging ${staging ? staging.modelId : "-"}`,
  ].join(" · ");
}

function waitForSignal(onStop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const handler = () => {
      if (stopping) {
        process.stderr.write("forced exit\n");
        process.exit(130);
      }
      stopping = true;
      void onStop().finally(resolve);
    };
    // A second Ctrl-C while stopping forces the exit.
    process.on("SIGINT", handler);
    process.on("SIGTERM", handler);
  });
}
