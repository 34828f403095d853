import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildEnvelope } from "../../shared/messages/build.ts";
import { deadLetters, postPubsubCloudEvent, postPush, sharedDeliveryCases, startFunction, type FunctionTest } from "./harness.ts";
import { modelCard, seedTraining } from "./seed.ts";

let t: FunctionTest;
beforeAll(async () => {
  t = await startFunction("on-training-completed");
});
afterAll(async () => t.close());

describe("on-training-completed function", () => {
  it("records the model and launches the evaluate job when training.completed arrives", async () => {
    const { versionId, outputPrefix } = await seedTraining(t.db, "run_otc_1");
    t.gcs.putObject("models", "default/runs/run_otc_1/model.json", JSON.stringify(modelCard("baseline", versionId)), "application/json");
    const envelope = buildEnvelope("training.completed", {
      runId: "run_otc_1", outputPrefix, modelUri: `${outputPrefix}model.onnx`, cardUri: `${outputPrefix}model.json`, selfReported: { loss: 0.1 },
    }, { id: "msg_tc_1", occurredAt: new Date() });
    const res = await postPush(t.url, "training-completed", { messageId: "4001", data: envelope, attributes: { type: "training.completed" } });
    expect(res.status).toBe(204);

    const runs = await t.db.query<{ state: string }>(`SELECT state FROM training_runs WHERE id = 'run_otc_1'`);
    expect(runs.rows[0]?.state).toBe("succeeded");
    const models = await t.db.query<{ id: string; uri: string }>(`SELECT id, uri FROM models`);
    expect(models.rows).toHaveLength(1);
    expect(t.cloudRun.launches.map((l) => l.jobName)).toEqual(["evaluate"]);
    expect(t.cloudRun.launches[0]!.env.CANDIDATE_MODEL_URI).toBe(outputPrefix);
    const evals = await t.db.query<{ state: string; execution_name: string; candidate_model_id: string }>(`SELECT state, execution_name, candidate_model_id FROM evaluations`);
    expect(evals.rows).toEqual([{ state: "running", execution_name: t.cloudRun.launches[0]!.executionName, candidate_model_id: models.rows[0]!.id }]);
  });

  it("records a training.failed (same topic) for a run that cannot resume", async () => {
    await seedTraining(t.db, "run_otc_2");
    const envelope = buildEnvelope("training.failed", { runId: "run_otc_2", reason: "trainer exited 1", resumable: false }, { id: "msg_tf_2", occurredAt: new Date() });
    const res = await postPubsubCloudEvent(t.url, "training-completed", { messageId: "4002", data: envelope, attributes: { type: "training.failed" } });
    expect(res.status).toBe(204);
    const runs = await t.db.query<{ state: string; error: string }>(`SELECT state, error FROM training_runs WHERE id = 'run_otc_2'`);
    expect(runs.rows[0]).toEqual({ state: "failed", error: "trainer exited 1" });
    expect(t.notifications.some((n) => n.title === "Training run_otc_2 failed")).toBe(true);
  });

  it("acknowledges a completion for an unknown run and records why", async () => {
    const envelope = buildEnvelope("training.failed", { runId: "run_nope", reason: "x", resumable: false }, { id: "msg_tf_unknown", occurredAt: new Date() });
    expect((await postPush(t.url, "training-completed", { messageId: "4003", data: envelope, attributes: { type: "training.failed" } })).status).toBe(204);
    const rows = (await deadLetters(t.db)).filter((r) => r.message_id === "msg_tf_unknown");
    expect(rows[0]?.reason).toMatch(/unknown_run/);
  });

  sharedDeliveryCases("on-training-completed", "training-completed", () => t, (id, occurredAt) =>
    buildEnvelope("training.failed", { runId: "run_x", reason: "x", resumable: false }, { id, occurredAt }),
  );
});
