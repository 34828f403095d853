import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalRuntime, type LocalRuntime } from "../../shared/runtime/local.ts";
import { DemoDriver } from "../../shared/demo/driver.ts";
import { handleDelivery } from "../../shared/core/delivery.ts";
import { readStatusSnapshot } from "../../shared/db/queries/status.ts";
import { ITEM_STATES } from "../../shared/core/status/snapshot.ts";
import type { ConsumerName } from "../../shared/messages/topics.ts";
import { SpoolPublisher } from "../../shared/adapters/messaging/spool.ts";
import { buildEnvelope } from "../../shared/messages/build.ts";
import { createTestDb, testDbKind } from "../helpers/db.ts";

/**
 * The whole loop on the local runtime with real components: generated products uploaded to the
 * archive folder, the watcher, the outbox dispatcher, the folder inbox with the simulated
 * annotation team, quality checks, a frozen dataset version, the real training and evaluation
 * job entrypoints as child processes, and the promotion policy. Then every message of the run is
 * delivered a second time, some concurrently, and nothing may be duplicated.
 */
const PRODUCTS = 8;

const COUNT_QUERIES = {
  items: `SELECT count(*)::int AS n FROM items`,
  annotations: `SELECT count(*)::int AS n FROM annotations`,
  datasetVersions: `SELECT count(*)::int AS n FROM dataset_versions`,
  trainingRuns: `SELECT count(*)::int AS n FROM training_runs`,
  models: `SELECT count(*)::int AS n FROM models`,
  evaluations: `SELECT count(*)::int AS n FROM evaluations`,
  decisions: `SELECT count(*)::int AS n FROM promotion_decisions`,
  aliasMoves: `SELECT count(*)::int AS n FROM alias_moves`,
  jobLaunches: `SELECT (SELECT coalesce(sum(attempt), 0) FROM training_runs) + (SELECT coalesce(sum(attempt), 0) FROM evaluations) AS n`,
} as const;

describe(`the loop on the local runtime (${testDbKind})`, () => {
  let workspace: string;
  let runtime: LocalRuntime;
  let demo: DemoDriver;
  let launches = 0;

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), "mlops-loop-"));
    const db = await createTestDb();
    runtime = await startLocalRuntime({
      db,
      serve: false,
      timers: false,
      say: () => undefined,
      env: {
        ...process.env,
        DATABASE_URL: undefined,
        MLOPS_WORKSPACE: workspace,
        LOG_LEVEL: "warn",
        THRESHOLD_N: String(PRODUCTS),
        THRESHOLD_M: String(PRODUCTS),
        EVAL_SPLIT_PERCENT: "40",
        TRAIN_PARAMS: JSON.stringify({ epochs: 8, samplesPerImage: 1500 }),
        PROMOTION_POLICY: JSON.stringify({ min_eval_items: 1, primary_metric: { name: "mIoU", threshold: 0.2 } }),
      },
    });
    const jobs = runtime.jobs;
    const launch = jobs.launch.bind(jobs);
    jobs.launch = async (request) => {
      launches++;
      return launch(request);
    };
    demo = new DemoDriver(
      { ...runtime.deps, store: runtime.store, say: () => undefined },
      { products: PRODUCTS, size: 48, uploadIntervalMs: 20, badLabelShare: 0.3, labelDelayMs: [20, 100], corruptUploads: true, seed: 11 },
    );
    await demo.start();
    // Drive the scheduler ticks by hand until the first promotion.
    const deadline = Date.now() + 600_000;
    while (Date.now() < deadline) {
      await runtime.publish("poll.tick", { reason: "schedule" });
      await runtime.publish("reconcile.tick", { reason: "schedule" });
      await new Promise((r) => setTimeout(r, 700));
      const moves = await runtime.deps.db.query(`SELECT 1 FROM alias_moves`);
      if (moves.rowCount > 0) break;
    }
    demo.stop();
    await settle(runtime);
  }, 900_000);

  afterAll(async () => {
    demo?.stop();
    await runtime?.stop();
    rmSync(workspace, { recursive: true, force: true });
  });

  it("takes uploads through every state to a promoted model", async () => {
    const s = await readStatusSnapshot(runtime.deps.db);
    for (const state of ITEM_STATES) expect(s.funnel[state], `items that reached ${state}`).toBeGreaterThan(0);
    expect(s.itemsByState.failed).toBe(3);
    // demo-0001 and its copy under another name: one of them is live, the other its duplicate.
    expect(s.itemsByState.duplicate).toBe(1);
    expect(s.duplicates.map((d) => d.sourceName).join(" ")).toMatch(/^demo\/demo-0001(-copy)?\.zip$/);
    const reasons = s.failures.filter((f) => f.kind === "item").map((f) => f.reason).join("\n");
    expect(reasons).toMatch(/corrupt_zip|not a zip|zip/i);
    expect(reasons).toMatch(/empty/i);
    expect(reasons).toMatch(/tiff/i);
    expect(s.datasetVersions).toHaveLength(1);
    expect(s.datasetVersions[0]).toMatchObject({ itemCount: PRODUCTS });
    expect(s.trainingRuns[0]).toMatchObject({ state: "succeeded" });
    expect(s.evaluations[0]).toMatchObject({ state: "succeeded", primaryMetric: "mIoU" });
    expect(s.aliases).toEqual([expect.objectContaining({ alias: "staging", modelId: s.trainingRuns[0]!.modelId })]);
    const report = s.aliasHistory[0]?.reportUri;
    expect(report).toMatch(/^gs:\/\/models\/.*summary\.html$/);
    expect((await runtime.store.get(report!)).toString("utf8")).toContain("mIoU");
  });

  it("duplicates nothing when every message is delivered again, some concurrently", async () => {
    const before = await counts(runtime);
    const launchesBefore = launches;
    const deliveries = await runtime.deps.db.query<{ consumer: ConsumerName; envelope: unknown }>(
      `SELECT consumer, envelope FROM local_deliveries WHERE state = 'done' ORDER BY created_at`,
    );
    // Every consumer of the loop took part (how many ticks ran depends on timing, so no count).
    const consumers = new Set(deliveries.rows.map((d) => d.consumer));
    for (const c of ["ingest", "register", "poll", "threshold", "on-training-completed", "promote", "reconcile"]) expect(consumers).toContain(c);
    const all = deliveries.rows;
    // Sequentially, in the original order…
    for (const d of all) await handleDelivery(d.consumer, d.envelope, runtime.deps);
    // …and in concurrent groups of 8.
    for (let i = 0; i < all.length; i += 8) {
      await Promise.all(all.slice(i, i + 8).map((d) => handleDelivery(d.consumer, d.envelope, runtime.deps)));
    }
    await settle(runtime);
    expect(await counts(runtime)).toEqual(before);
    expect(launches).toBe(launchesBefore);
  });

  it("runs manual commands once: promote, rollback, and their redelivery", async () => {
    const s = await readStatusSnapshot(runtime.deps.db);
    const model = s.aliases.find((a) => a.alias === "staging")!.modelId;
    const spool = new SpoolPublisher(workspace);
    const promote = buildEnvelope("command", { name: "promote", actor: "tester", modelId: model, alias: "prod" }, { id: "cmd-promote-1", occurredAt: new Date() });
    await spool.publish(promote);
    await spool.publish(promote);
    await runtime.spool.drain();
    await settle(runtime);
    let history = await runtime.deps.db.query<{ alias: string; model_id: string; actor: string }>(`SELECT alias, model_id, actor FROM alias_moves ORDER BY id`);
    expect(history.rows.filter((r) => r.alias === "prod")).toEqual([{ alias: "prod", model_id: model, actor: "tester" }]);

    await handleDelivery("command", buildEnvelope("command", { name: "rollback", actor: "tester", alias: "staging" }, { id: "cmd-rollback-1", occurredAt: new Date() }), runtime.deps);
    const dead = await runtime.deps.db.query<{ reason: string }>(`SELECT reason FROM dead_letters WHERE message_id = 'cmd-rollback-1'`);
    // The first model ever promoted has no predecessor: the refusal is recorded, not retried.
    expect(dead.rows[0]?.reason).toMatch(/nothing_to_roll_back/);
    history = await runtime.deps.db.query(`SELECT alias, model_id, actor FROM alias_moves ORDER BY id`);
    expect(history.rowCount).toBe(2);
  });
});

async function counts(runtime: LocalRuntime): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, sql] of Object.entries(COUNT_QUERIES)) {
    out[name] = (await runtime.deps.db.query<{ n: number }>(sql)).rows[0]!.n;
  }
  return out;
}

/** Waits until no delivery is due and no job runs. */
async function settle(runtime: LocalRuntime): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if ((await runtime.dispatcher.idle()) && runtime.jobs.runningCount() === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("runtime did not settle");
}
