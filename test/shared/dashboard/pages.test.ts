import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { EvaluationReportSchema } from "../../../shared/core/evaluation/report.ts";
import { compareRuns, formatRunComparison } from "../../../shared/core/runs/compare.ts";
import { createDashboardHandler, dashboardPages } from "../../../shared/dashboard/http.ts";
import * as queries from "../../../shared/db/queries/pages.ts";
import { readStatusSnapshot } from "../../../shared/db/queries/status.ts";
import { seedSample } from "../../helpers/dataset-seed.ts";
import { evaluationReport } from "../../functions/seed.ts";
import { createTestDeps, type TestDeps } from "../../helpers/deps.ts";
import { testDbKind } from "../../helpers/db.ts";

let t: TestDeps;
let server: Server | null = null;
afterEach(async () => {
  if (server) await new Promise<void>((r) => server!.close(() => r()));
  server = null;
  await t?.close();
});

async function serve(): Promise<string> {
  const handler = createDashboardHandler({
    getSnapshot: () => readStatusSnapshot(t.db),
    pages: dashboardPages(t.db, queries),
    readObject: async (uri) => ((await t.store.head(uri)) ? { body: await t.store.get(uri) } : null),
  });
  server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A finished run with its model, parameters, trainer metrics and an evaluation report with a confusion matrix. */
async function seedRun(id: string, params: Record<string, unknown>, miou: number, selfReported: Record<string, unknown>): Promise<void> {
  const versionId = `dsv_${id}`;
  await t.db.query(
    `INSERT INTO dataset_versions (id, line, seq, manifest_uri, item_count, train_count, eval_count, fresh_count, classes, trigger)
     VALUES ($1, 'default', (SELECT coalesce(max(seq), 0) + 1 FROM dataset_versions), 'gs://datasets/m.json', 2, 1, 1, 2, '["a","b"]', 'test')`, [versionId]);
  await t.db.query(
    `INSERT INTO training_runs (id, line, dataset_version_id, state, output_prefix, params, self_reported, finished_at) VALUES ($1, 'default', $2, 'succeeded', 'gs://models/r/', $3, $4, now())`,
    [id, versionId, JSON.stringify(params), JSON.stringify(selfReported)]);
  await t.db.query(`INSERT INTO models (id, training_run_id, name, task, uri, card, dataset_version_id) VALUES ($1, $2, 'baseline', 'segmentation', 'gs://models/r/', '{}', $3)`, [`mdl_${id}`, id, versionId]);
  const reportUri = `gs://models/default/evaluations/eval_${id}/report.json`;
  await t.db.query(
    `INSERT INTO evaluations (id, candidate_model_id, dataset_version_id, state, report_uri, summary_uri, metrics) VALUES ($1, $2, $3, 'succeeded', $4, $5, $6)`,
    [`eval_${id}`, `mdl_${id}`, versionId, reportUri, `gs://models/default/evaluations/eval_${id}/summary.html`, JSON.stringify({ primaryMetric: "mIoU", candidateValue: miou })]);
  // A valid report (the evaluate job's shape), with two classes and a confusion matrix.
  const report = evaluationReport(`eval_${id}`, `mdl_${id}`, versionId, miou);
  report.evaluation.classes = ["a", "b"];
  Object.assign(report.evaluation.candidate, {
    classes: ["a", "b"], metrics: { mIoU: miou, pixelAccuracy: 0.9 },
    perClass: [{ className: "a", support: 10, value: miou, metrics: { IoU: miou } }, { className: "b", support: 5, value: 0.5, metrics: { IoU: 0.5 } }],
    confusion: { labels: ["a", "b"], matrix: [[9, 1], [2, 3]], outOfRange: [0, 0] },
  });
  await t.store.put(reportUri, Buffer.from(JSON.stringify(report)));
}

describe(`dashboard detail pages (${testDbKind})`, () => {
  it("lists items of a state with their thumbnails, and refuses an unknown state", async () => {
    t = await createTestDeps();
    await seedSample(t.db, t.store, "it_a", { nodata: true });
    await seedSample(t.db, t.store, "it_b");
    await t.db.query(`UPDATE items SET title = 'p-<b>&"', state = 'failed', error = 'corrupt_zip: <script>x</script>' WHERE id = 'it_b'`);
    const base = await serve();
    const accepted = await (await fetch(`${base}/items?state=accepted`)).text();
    expect(accepted).toContain(`href="/items/it_a"`);
    expect(accepted).toContain(`<img src="/objects/annotation/items/p-it_a/p-it_a_rgb.png" alt="it_a RGB"`);
    expect(accepted).toContain(`alt="it_a NIR"`);
    expect(accepted).toContain(`src="/objects/annotation/masks/nodata/it_a.png" alt="it_a no-data"`);
    expect(accepted).not.toContain("it_b");
    const failed = await (await fetch(`${base}/items?state=failed`)).text();
    expect(failed).toContain("p-&lt;b&gt;&amp;&quot;");
    expect(failed).not.toContain("<script>x");
    expect(failed).toContain("corrupt_zip: &lt;script&gt;");
    expect((await fetch(`${base}/items?state=bogus`)).status).toBe(400);
  });

  it("shows an item with its state history, label overlay and revisions; 404 for an unknown one", async () => {
    t = await createTestDeps();
    await seedSample(t.db, t.store, "it_c");
    await t.db.query(`INSERT INTO item_transitions (item_id, from_state, to_state, reason) VALUES ('it_c', 'annotated', 'accepted', 'passed quality checks')`);
    const base = await serve();
    const page = await (await fetch(`${base}/items/it_c`)).text();
    expect(page).toContain("passed quality checks");
    expect(page).toMatch(/<svg viewBox="0 0 6 4" class="overlay"[\s\S]*<image href="\/objects\/annotation\/items\/p-it_c\/p-it_c_rgb.png"[\s\S]*<polygon points="0,0 6,0 6,4 0,4"/);
    expect(page).toContain("tester");
    expect((await fetch(`${base}/items/nope`)).status).toBe(404);
    expect((await fetch(`${base}/items/a%2Fb`)).status).toBe(404);
  });

  it("shows an evaluation's decisions and its confusion matrix as a heatmap", async () => {
    t = await createTestDeps();
    await seedRun("run_1", { epochs: 4 }, 0.7, {});
    await t.db.query(`INSERT INTO promotion_decisions (id, evaluation_id, model_id, alias, outcome, reasons, checks, actor) VALUES ('dec_1', 'eval_run_1', 'mdl_run_1', 'staging', 'promote', '["mIoU 0.7 ≥ 0.3"]', '[]', 'policy')`);
    const base = await serve();
    const page = await (await fetch(`${base}/evaluations/eval_run_1`)).text();
    expect(page).toContain("mIoU 0.7 ≥ 0.3");
    expect(page.match(/<rect [^>]*fill="hsl/g)).toHaveLength(4);
    // Row "a": 9 of 10 on the diagonal.
    expect(page).toContain("a → a: 9 (90.0 % of the row)");
    expect((await fetch(`${base}/evaluations/eval_missing`)).status).toBe(404);
    // The overview links the evaluation page.
    expect(await (await fetch(`${base}/`)).text()).toContain(`href="/evaluations/eval_run_1"`);
  });

  it("shows each model's worst and best items as input, label and prediction pictures with their scores", async () => {
    t = await createTestDeps();
    await seedRun("run_2", { epochs: 4 }, 0.7, {});
    const reportUri = "gs://models/default/evaluations/eval_run_2/report.json";
    const report = EvaluationReportSchema.parse(JSON.parse((await t.store.get(reportUri)).toString("utf8")));
    const png = (name: string) => `gs://models/default/evaluations/eval_run_2/examples/${name}.png`;
    const item = (itemId: string, score: number, p: string) => ({
      itemId, score, pixelAccuracy: 0.5, width: 128, height: 64, sourceWidth: 512, sourceHeight: 256, input: png(`in-${p}`), label: png(`lab-${p}`), prediction: png(`pred-${p}`),
    });
    const palette = { classes: ["#9aa5b1", "#3b9a57"], nodata: "#000000", outOfRange: "#ff00ff" };
    report.evaluation.candidate.examples = { metric: "mIoU", worst: [item('it_<x>"', 0.125, "1")], best: [item("it_b", 0.875, "2")], palette };
    await t.store.put(reportUri, Buffer.from(JSON.stringify(report)));
    const base = await serve();
    const page = await (await fetch(`${base}/evaluations/eval_run_2`)).text();
    const section = page.slice(page.indexOf(`id="examples-title"`));
    expect(section).toContain("Worst by mIoU");
    expect(section.indexOf("Worst by mIoU")).toBeLessThan(section.indexOf("Best by mIoU"));
    expect(section).toContain(`<img src="/objects/models/default/evaluations/eval_run_2/examples/in-2.png" alt="it_b input (RGB)" width="128" height="64"`);
    expect(section).toContain(`src="/objects/models/default/evaluations/eval_run_2/examples/lab-2.png" alt="it_b label"`);
    expect(section).toContain(`src="/objects/models/default/evaluations/eval_run_2/examples/pred-2.png" alt="it_b candidate prediction"`);
    expect(section).toContain("mIoU <strong>0.8750</strong>");
    expect(section).toContain("512×256 shown at 128×64");
    // The item link and alt text are escaped, and the legend names the dataset's classes.
    expect(section).toContain(`href="/items/it_%3Cx%3E%22"`);
    expect(section).toContain(`alt="it_&lt;x&gt;&quot; input (RGB)"`);
    expect(section).not.toContain("<x>");
    expect(section).toMatch(/fill="#3b9a57"><\/rect><\/svg> b /);
    // A report without examples (older, or detection) shows no such section.
    await seedRun("run_3", { epochs: 4 }, 0.7, {});
    expect(await (await fetch(`${base}/evaluations/eval_run_3`)).text()).not.toContain("examples-title");
  });

  it("serves a run as JSON, and `runs compare` puts two runs side by side", async () => {
    t = await createTestDeps();
    await seedRun("run_a", { epochs: 4, lr: 0.01 }, 0.6, { loss: [0.9, 0.5, 0.4] });
    await seedRun("run_b", { epochs: 8, lr: 0.01 }, 0.7, { loss: [0.9, 0.3] });
    const base = await serve();
    const a = await (await fetch(`${base}/api/runs/run_a`)).json() as queries.RunDetail;
    const b = await (await fetch(`${base}/api/runs/run_b`)).json() as queries.RunDetail;
    expect(a).toMatchObject({ id: "run_a", params: { epochs: 4, lr: 0.01 }, model: { id: "mdl_run_a" }, evaluation: { id: "eval_run_a" } });
    expect((await fetch(`${base}/api/runs/nope`)).status).toBe(404);

    const comparison = await compareRuns(a, b, async (uri) => JSON.parse((await t.store.get(uri)).toString("utf8")) as unknown);
    const row = (section: string, key: string) => comparison.rows.find((r) => r.section === section && r.key === key);
    expect(row("params", "epochs")).toEqual({ section: "params", key: "epochs", a: 4, b: 8, differs: true });
    expect(row("params", "lr")).toMatchObject({ a: 0.01, b: 0.01, differs: false });
    expect(row("trainer", "loss")).toMatchObject({ a: "0.4 (last of 3)", b: "0.3 (last of 2)" });
    expect(row("evaluation", "mIoU")).toMatchObject({ a: 0.6, b: 0.7, differs: true });
    expect(row("evaluation", "class.b")).toMatchObject({ a: 0.5, b: 0.5, differs: false });
    // The same comparison as a page, linked from the newer run on the overview.
    const page = await (await fetch(`${base}/runs/compare?a=run_a&b=run_b`)).text();
    expect(page).toMatch(/<tr class="differs"><td>epochs <span class="badge warn">differs<\/span><\/td><td>4<\/td><td>8<\/td><\/tr>/);
    expect(page).toMatch(/<tr><td>lr<\/td><td>0\.01<\/td><td>0\.01<\/td><\/tr>/);
    expect((await fetch(`${base}/runs/compare?a=run_a&b=nope`)).status).toBe(404);
    expect(await (await fetch(`${base}/`)).text()).toContain(`href="/runs/compare?a=run_a&amp;b=run_b"`);
    // Per-epoch curves: on each run's page (linked from the overview) and overlaid in the comparison.
    const history = (losses: number[]) => losses.map((loss, i) => ({ epoch: i + 1, loss, mIoU: 0.1 * (i + 1) }));
    await t.db.query(`UPDATE training_runs SET self_reported = $1 WHERE id = 'run_a'`, [JSON.stringify({ history: history([0.9, 0.5, 0.4]) })]);
    await t.db.query(`UPDATE training_runs SET self_reported = $1 WHERE id = 'run_b'`, [JSON.stringify({ history: history([0.8, 0.3]) })]);
    const runPage = await (await fetch(`${base}/runs/run_a`)).text();
    expect(runPage.match(/<circle class="dot" data-epoch="\d"/g)).toHaveLength(6);
    expect(runPage).toContain(`data-epoch="3" data-value="0.4"`);
    expect(runPage).toContain(`<a href="/evaluations/eval_run_a">`);
    expect(runPage).toMatch(/<td>epochs<\/td><td>4<\/td>/);
    expect(runPage).toMatch(/<td>history<\/td><td>3 epochs/);
    expect((await fetch(`${base}/runs/nope`)).status).toBe(404);
    expect(await (await fetch(`${base}/`)).text()).toContain(`href="/runs/run_a"`);
    const comparePage = await (await fetch(`${base}/runs/compare?a=run_a&b=run_b`)).text();
    expect(comparePage).toContain(`data-series="A loss"`);
    expect(comparePage).toMatch(/class="series s0 dashed" data-series="B loss"[^]*data-epoch="2" data-value="0.3"/);
    const text = formatRunComparison(comparison);
    expect(text).toMatch(/^\* epochs\s+4\s+8$/m);
    expect(text).toMatch(/^ {2}lr\s+0\.01\s+0\.01$/m);
  });
});
