import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildEnvelope } from "../../shared/messages/build.ts";
import { postPubsubCloudEvent, postPush, sharedDeliveryCases, startFunction, type FunctionTest } from "./harness.ts";
import { evaluationReport, modelCard, seedTraining } from "./seed.ts";

let t: FunctionTest;
beforeAll(async () => {
  t = await startFunction("promote");
});
afterAll(async () => t.close());

async function seedEvaluation(evaluationId: string, modelId: string, runId: string): Promise<string> {
  const { versionId, outputPrefix } = await seedTraining(t.db, runId, "succeeded");
  await t.db.query(
    `INSERT INTO models (id, training_run_id, name, task, uri, card, dataset_version_id) VALUES ($1, $2, 'baseline', 'segmentation', $3, $4, $5)`,
    [modelId, runId, outputPrefix, JSON.stringify(modelCard("baseline", versionId)), versionId],
  );
  await t.db.query(
    `INSERT INTO evaluations (id, candidate_model_id, dataset_version_id, state, execution_name) VALUES ($1, $2, $3, 'running', 'projects/p/locations/r/jobs/evaluate/executions/e1')`,
    [evaluationId, modelId, versionId],
  );
  return versionId;
}

describe("promote function", () => {
  it("moves staging to a candidate whose report passes the policy", async () => {
    const versionId = await seedEvaluation("eval_p1", "mdl_p1", "run_p1");
    const report = evaluationReport("eval_p1", "mdl_p1", versionId, 0.82);
    t.gcs.putObject("models", "default/evaluations/eval_p1/report.json", JSON.stringify(report), "application/json");
    const envelope = buildEnvelope("evaluation.completed", {
      evaluationId: "eval_p1", candidateModelId: "mdl_p1", championModelId: null,
      reportUri: "gs://models/default/evaluations/eval_p1/report.json", summaryUri: "gs://models/default/evaluations/eval_p1/summary.html",
    }, { id: "msg_ec_1", occurredAt: new Date() });
    const res = await postPush(t.url, "evaluation-completed", { messageId: "5001", data: envelope, attributes: { type: "evaluation.completed" } });
    expect(res.status).toBe(204);

    const moves = await t.db.query<{ alias: string; model_id: string; actor: string }>(`SELECT alias, model_id, actor FROM alias_moves`);
    expect(moves.rows).toEqual([{ alias: "staging", model_id: "mdl_p1", actor: "policy" }]);
    expect(t.published.filter((e) => e.type === "model.promoted").map((e) => (e.data as { alias: string }).alias)).toEqual(["staging"]);
    const evals = await t.db.query<{ state: string }>(`SELECT state FROM evaluations WHERE id = 'eval_p1'`);
    expect(evals.rows[0]?.state).toBe("succeeded");
  });

  it("records a failed evaluation (evaluation.failed, converted CloudEvent shape)", async () => {
    await seedEvaluation("eval_p2", "mdl_p2", "run_p2");
    const envelope = buildEnvelope("evaluation.failed", { evaluationId: "eval_p2", reason: "CUDA init failed" }, { id: "msg_ef_2", occurredAt: new Date() });
    const res = await postPubsubCloudEvent(t.url, "evaluation-completed", { messageId: "5002", data: envelope, attributes: { type: "evaluation.failed" } });
    expect(res.status).toBe(204);
    const evals = await t.db.query<{ state: string; error: string }>(`SELECT state, error FROM evaluations WHERE id = 'eval_p2'`);
    expect(evals.rows[0]).toEqual({ state: "failed", error: "CUDA init failed" });
  });

  sharedDeliveryCases("promote", "evaluation-completed", () => t, (id, occurredAt) =>
    buildEnvelope("evaluation.failed", { evaluationId: "eval_x", reason: "x" }, { id, occurredAt }),
  );
});
