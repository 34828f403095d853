import { afterEach, describe, expect, it } from "vitest";
import type { EvaluationReport, ModelResult } from "../../../../shared/core/evaluation/report.ts";
import { onEvaluationCompleted } from "../../../../shared/core/usecases/promote.ts";
import { runCommand } from "../../../../shared/core/usecases/commands.ts";
import { aliasHolder } from "../../../../shared/db/queries/models.ts";
import { createTestDeps, type TestDeps } from "../../../helpers/deps.ts";
import { envelope } from "../../../helpers/fixtures.ts";
import { testDbKind } from "../../../helpers/db.ts";

const CLASSES = ["background", "land", "water", "thin_cloud"];

function modelResult(role: "candidate" | "champion", modelId: string, mIoU: number, perClass: Record<string, number>): ModelResult {
  return {
    role, modelId, uri: `gs://models/default/runs/${modelId}/`, name: "baseline-mlp", classes: CLASSES, outputFormat: "logits",
    primaryMetric: { name: "mIoU", value: mIoU }, metrics: { mIoU, pixelAccuracy: 0.9 }, perClassMetric: "IoU",
    perClass: Object.entries(perClass).map(([className, value]) => ({ className, support: 5000, value, metrics: { IoU: value } })),
    confusion: null, timings: { inferenceMs: 10, totalMs: 20, inferenceCalls: 1, items: 6, pixels: 1e5, pixelsPerSecond: 1e7 }, selfReported: null,
  };
}

function report(evaluationId: string, candidate: ModelResult, champion: ModelResult | null): EvaluationReport {
  return {
    schema: "evaluation-report/v1", evaluationId, createdAt: new Date().toISOString(), task: "segmentation",
    evaluation: { datasetUri: "gs://datasets/default/v2/manifest.json", versionId: "v2", line: "default", split: "eval", itemCount: 6, classes: CLASSES, skippedItems: [], candidate, champion },
    benchmark: null, newClasses: [], removedClasses: [], discrepancies: [], warnings: [],
  };
}

describe(`promotion by policy, review and rollback (${testDbKind})`, () => {
  let t: TestDeps;
  afterEach(async () => t?.close());

  async function seed() {
    for (const [v, seq] of [["v1", 1], ["v2", 2]] as const) {
      await t.db.query(`INSERT INTO dataset_versions (id, line, seq, manifest_uri, item_count, train_count, eval_count, fresh_count, classes, trigger)
                        VALUES ($1, 'default', $2, 'gs://datasets/m.json', 10, 8, 2, 10, '[]', 'test')`, [v, seq]);
    }
    for (const [m, v] of [["mdl_old", "v1"], ["mdl_new", "v2"]] as const) {
      await t.db.query(`INSERT INTO models (id, name, task, uri, card, dataset_version_id) VALUES ($1, 'baseline-mlp', 'segmentation', $2, '{}', $3)`, [m, `gs://models/${m}/`, v]);
    }
    await t.db.query(`INSERT INTO alias_moves (alias, model_id, actor, reason, cause_id) VALUES ('staging', 'mdl_old', 'policy', 'first model', 'seed')`);
    await t.db.query(`INSERT INTO evaluations (id, candidate_model_id, champion_model_id, dataset_version_id, state) VALUES ('eval_1', 'mdl_new', 'mdl_old', 'v2', 'running')`);
  }

  async function complete(r: EvaluationReport) {
    const uri = `gs://models/default/evaluations/${r.evaluationId}/report.json`;
    await t.store.put(uri, JSON.stringify(r));
    return envelope("evaluation.completed", { evaluationId: r.evaluationId, candidateModelId: "mdl_new", championModelId: "mdl_old", reportUri: uri, summaryUri: uri.replace("report.json", "summary.html") });
  }

  it("refuses a candidate whose class regressed past the limit, names that class, then approve promotes it and rollback restores the old model", async () => {
    t = await createTestDeps({ env: { PROMOTION_POLICY: JSON.stringify({ primary_metric: { name: "mIoU", threshold: 0.3, min_absolute_change: 0.01 }, per_class: { max_drop: 0.1, min_support: 100 }, min_eval_items: 3, prod: "approve" }) } });
    await seed();
    // Better overall (0.80 > 0.75 + 0.01), but thin_cloud drops 0.62 → 0.41.
    const candidate = modelResult("candidate", "mdl_new", 0.8, { land: 0.95, water: 0.94, thin_cloud: 0.41 });
    const champion = modelResult("champion", "mdl_old", 0.75, { land: 0.9, water: 0.9, thin_cloud: 0.62 });
    const completed = await complete(report("eval_1", candidate, champion));

    const outcome = await onEvaluationCompleted(completed, t.deps);
    expect(outcome.detail).toMatch(/^refuse/);
    expect((await aliasHolder(t.db, "staging"))?.model_id).toBe("mdl_old");
    const alert = t.notifier.sent.find((n) => n.severity === "alert");
    expect(alert?.title).toBe("Model mdl_new refused for staging");
    expect(alert?.text).toContain("thin_cloud");
    expect(alert?.text).toMatch(/0\.62.*0\.41/);
    const decision = (await t.db.query<{ outcome: string; reasons: string[]; actor: string }>(`SELECT outcome, reasons, actor FROM promotion_decisions`)).rows;
    expect(decision).toEqual([{ outcome: "refuse", reasons: [expect.stringContaining("thin_cloud")], actor: "policy" }]);
    expect((await t.db.query<{ state: string }>(`SELECT state FROM evaluations`)).rows[0]?.state).toBe("succeeded");

    // Redelivery of the same completion decides nothing twice.
    expect((await onEvaluationCompleted(completed, t.deps)).status).toBe("duplicate");
    expect((await t.db.query(`SELECT 1 FROM promotion_decisions`)).rowCount).toBe(1);

    // A reviewer overrides the refusal.
    const approve = envelope("command", { name: "approve", actor: "lead@team", evaluationId: "eval_1" });
    expect((await runCommand(approve, t.deps)).detail).toBe("staging → mdl_new");
    expect((await aliasHolder(t.db, "staging"))?.model_id).toBe("mdl_new");
    expect((await runCommand(approve, t.deps)).status).toBe("duplicate");
    const approved = (await t.db.query<{ outcome: string; actor: string }>(`SELECT outcome, actor FROM promotion_decisions WHERE outcome = 'approved'`)).rows;
    expect(approved).toEqual([{ outcome: "approved", actor: "lead@team" }]);

    // Rollback is another move back to the previous holder, in the append-only history.
    const rollback = envelope("command", { name: "rollback", actor: "lead@team", alias: "staging" });
    await runCommand(rollback, t.deps);
    await runCommand(rollback, t.deps);
    const history = (await t.db.query<{ model_id: string; previous_model_id: string | null; reason: string }>(`SELECT model_id, previous_model_id, reason FROM alias_moves WHERE alias = 'staging' ORDER BY id`)).rows;
    expect(history.map((h) => [h.model_id, h.previous_model_id])).toEqual([["mdl_old", null], ["mdl_new", "mdl_old"], ["mdl_old", "mdl_new"]]);
    expect(history[2]?.reason).toBe("rollback from mdl_new");
    expect(t.publisher.ofType("model.promoted").map((m) => (m.data as { alias: string; modelId: string }).modelId)).toEqual(["mdl_new", "mdl_old"]);
  });

  it("promotes a better candidate to staging and asks for review before prod", async () => {
    t = await createTestDeps({ env: { PROMOTION_POLICY: JSON.stringify({ primary_metric: { name: "mIoU", threshold: 0.3 }, per_class: { max_drop: 0.1 }, min_eval_items: 3, prod: "approve" }) } });
    await seed();
    const completed = await complete(report("eval_1",
      modelResult("candidate", "mdl_new", 0.8, { land: 0.95, thin_cloud: 0.6 }),
      modelResult("champion", "mdl_old", 0.75, { land: 0.9, thin_cloud: 0.62 })));
    await onEvaluationCompleted(completed, t.deps);
    expect((await aliasHolder(t.db, "staging"))?.model_id).toBe("mdl_new");
    expect(await aliasHolder(t.db, "prod")).toBeNull();
    expect(t.publisher.ofType("promotion.review_requested").map((m) => m.data)).toEqual([
      { evaluationId: "eval_1", modelId: "mdl_new", alias: "prod", reasons: expect.any(Array) },
    ]);
    expect(t.notifier.sent.map((n) => n.title)).toContain("Review needed for prod: mdl_new");
    // The review message carries the decision (Slack shows buttons) and a dashboard link, not only gs://.
    const review = t.notifier.sent.find((n) => n.title === "Review needed for prod: mdl_new")!;
    expect(review.review).toEqual({ evaluationId: "eval_1" });
    expect(review.links?.[0]).toEqual({ label: "evaluation on the dashboard", url: "/evaluations/eval_1" });
    await runCommand(envelope("command", { name: "approve", actor: "lead@team", evaluationId: "eval_1" }), t.deps);
    expect((await aliasHolder(t.db, "prod"))?.model_id).toBe("mdl_new");
  });

  it("copies the execution provider and the skipped-item count into the evaluation's metrics", async () => {
    t = await createTestDeps();
    await seed();
    const r = report("eval_1", { ...modelResult("candidate", "mdl_new", 0.8, { land: 0.95 }), executionProvider: "cuda" }, modelResult("champion", "mdl_old", 0.75, { land: 0.9 }));
    r.evaluation.skippedItems = [{ itemId: "it_9", reason: "unknown_class: item it_9: object o has class id 7, but the dataset has 4 classes (0–3)" }];
    await onEvaluationCompleted(await complete(r), t.deps);
    const { rows } = await t.db.query<{ metrics: Record<string, unknown> }>(`SELECT metrics FROM evaluations WHERE id = 'eval_1'`);
    expect(rows[0]?.metrics).toMatchObject({ executionProvider: "cuda", skippedItems: 1, items: 6 });
  });

  it("closes an older open prod review when a newer candidate asks for the same alias", async () => {
    t = await createTestDeps({ env: { PROMOTION_POLICY: JSON.stringify({ primary_metric: { name: "mIoU", threshold: 0.3 }, min_eval_items: 1, prod: "approve" }) } });
    await seed();
    await onEvaluationCompleted(await complete(report("eval_1", modelResult("candidate", "mdl_new", 0.8, {}), modelResult("champion", "mdl_old", 0.75, {}))), t.deps);
    await t.db.query(`INSERT INTO models (id, name, task, uri, card, dataset_version_id) VALUES ('mdl_newer', 'baseline-mlp', 'segmentation', 'gs://models/mdl_newer/', '{}', 'v2')`);
    await t.db.query(`INSERT INTO evaluations (id, candidate_model_id, champion_model_id, dataset_version_id, state) VALUES ('eval_2', 'mdl_newer', 'mdl_new', 'v2', 'running')`);
    const second = report("eval_2", { ...modelResult("candidate", "mdl_newer", 0.85, {}) }, modelResult("champion", "mdl_new", 0.8, {}));
    const uri = "gs://models/default/evaluations/eval_2/report.json";
    await t.store.put(uri, JSON.stringify(second));
    await onEvaluationCompleted(envelope("evaluation.completed", { evaluationId: "eval_2", candidateModelId: "mdl_newer", championModelId: "mdl_new", reportUri: uri, summaryUri: uri }), t.deps);
    const prod = (await t.db.query<{ evaluation_id: string; outcome: string; reasons: string[] }>(
      `SELECT evaluation_id, outcome, reasons FROM promotion_decisions WHERE alias = 'prod' ORDER BY created_at, outcome`)).rows;
    expect(prod).toEqual(expect.arrayContaining([
      { evaluation_id: "eval_1", outcome: "review", reasons: expect.any(Array) },
      { evaluation_id: "eval_1", outcome: "rejected", reasons: ["superseded by evaluation eval_2"] },
      { evaluation_id: "eval_2", outcome: "review", reasons: expect.any(Array) },
    ]));
    await expect(runCommand(envelope("command", { name: "approve", actor: "lead@team", evaluationId: "eval_1" }), t.deps)).resolves.toMatchObject({ status: "duplicate" });
  });

  it("refuses a promote command for an unknown model with a permanent error", async () => {
    t = await createTestDeps();
    await expect(runCommand(envelope("command", { name: "promote", actor: "x", modelId: "mdl_nope", alias: "prod" }), t.deps)).rejects.toThrow(/no model mdl_nope/);
  });
});
