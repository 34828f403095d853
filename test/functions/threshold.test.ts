import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildEnvelope } from "../../shared/messages/build.ts";
import { lastOutcome, postPush, sharedDeliveryCases, startFunction, type FunctionTest } from "./harness.ts";
import { seedAcceptedSample } from "./seed.ts";

let t: FunctionTest;
beforeAll(async () => {
  t = await startFunction("threshold", { THRESHOLD_N: "3", THRESHOLD_M: "3" });
});
afterAll(async () => t.close());

const accepted = (id: string, itemIds: string[]) => buildEnvelope("annotations.accepted", { accepted: itemIds.length, rejected: 0, itemIds }, { id, occurredAt: new Date() });

describe("threshold function", () => {
  it("does nothing below N fresh samples, but records the message", async () => {
    await seedAcceptedSample(t.db, "it_th_1");
    const res = await postPush(t.url, "annotations-accepted", { messageId: "3001", data: accepted("msg_acc_1", ["it_th_1"]), attributes: { type: "annotations.accepted" } });
    expect(res.status).toBe(204);
    expect(lastOutcome(t)?.status).toBe("skipped");
    expect(t.cloudRun.launches).toHaveLength(0);
  });

  it("freezes a dataset version and launches the train job once N samples are waiting", async () => {
    await seedAcceptedSample(t.db, "it_th_2");
    await seedAcceptedSample(t.db, "it_th_3");
    const res = await postPush(t.url, "annotations-accepted", { messageId: "3002", data: accepted("msg_acc_2", ["it_th_2", "it_th_3"]), attributes: { type: "annotations.accepted" } });
    expect(res.status).toBe(204);

    const versions = await t.db.query<{ id: string; item_count: number; manifest_uri: string }>(`SELECT id, item_count, manifest_uri FROM dataset_versions`);
    expect(versions.rows).toHaveLength(1);
    expect(versions.rows[0]!.item_count).toBe(3);
    const manifestName = versions.rows[0]!.manifest_uri.replace("gs://datasets/", "");
    expect(t.gcs.getObject("datasets", manifestName)).toBeDefined();

    expect(t.cloudRun.launches).toHaveLength(1);
    const launch = t.cloudRun.launches[0]!;
    expect(launch.jobName).toBe("train");
    expect(launch.env.DATASET_URI).toBe(versions.rows[0]!.manifest_uri);
    const runs = await t.db.query<{ id: string; state: string; execution_name: string }>(`SELECT id, state, execution_name FROM training_runs`);
    expect(runs.rows).toEqual([{ id: launch.env.RUN_ID, state: "running", execution_name: launch.executionName }]);
    const items = await t.db.query<{ state: string }>(`SELECT DISTINCT state FROM items`);
    expect(items.rows).toEqual([{ state: "in_dataset" }]);
  });

  it("runs on a threshold tick from the scheduler without launching a second run", async () => {
    const res = await postPush(t.url, "threshold-tick", { messageId: "3003", attributes: { type: "threshold.tick" } });
    expect(res.status).toBe(204);
    expect(t.cloudRun.launches).toHaveLength(1);
  });

  sharedDeliveryCases("threshold", "annotations-accepted", () => t, (id, occurredAt) =>
    buildEnvelope("annotations.accepted", { accepted: 0, rejected: 0, itemIds: [] }, { id, occurredAt }),
  );
});
