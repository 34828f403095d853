import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildEnvelope } from "../../shared/messages/build.ts";
import { lastOutcome, postPush, sharedDeliveryCases, startFunction, type FunctionTest } from "./harness.ts";
import { seedTraining } from "./seed.ts";

let t: FunctionTest;
beforeAll(async () => {
  t = await startFunction("reconcile");
});
afterAll(async () => t.close());

describe("reconcile function", () => {
  it("republishes outbox rows left unsent by a crash", async () => {
    const lost = buildEnvelope("item.normalised", { itemId: "it_lost" }, { id: "msg_lost_1", occurredAt: new Date() });
    await t.db.query(
      `INSERT INTO outbox (id, type, topic, envelope, created_at) VALUES ($1, $2, 'item-normalised', $3, now() - interval '5 minutes')`,
      [lost.id, lost.type, JSON.stringify(lost)],
    );
    const res = await postPush(t.url, "reconcile-tick", { messageId: "7001", attributes: { type: "reconcile.tick" } });
    expect(res.status).toBe(204);
    expect(t.published.map((e) => e.id)).toContain("msg_lost_1");
    const { rows } = await t.db.query<{ sent: boolean }>(`SELECT sent_at IS NOT NULL AS sent FROM outbox WHERE id = 'msg_lost_1'`);
    expect(rows[0]?.sent).toBe(true);
  });

  it("asks Cloud Run about a run whose job never reported, and records its failure", async () => {
    await seedTraining(t.db, "run_rc_1");
    // The execution the run points at exists in the fake and failed.
    const [op] = await t.cloudRun.runJob({ name: "projects/test-proj/locations/europe-west4/jobs/train" });
    await t.db.query(`UPDATE training_runs SET execution_name = $1, started_at = now() - interval '2 hours', updated_at = now() - interval '2 hours' WHERE id = 'run_rc_1'`, [op.metadata.name]);
    t.cloudRun.fail(op.metadata.name!, { message: "Task train-task0 failed with message: The container exited with an error." });

    const res = await postPush(t.url, "reconcile-tick", { messageId: "7002", attributes: { type: "reconcile.tick" } });
    expect(res.status).toBe(204);
    expect(lastOutcome(t)?.status).toBe("done");
    const { rows } = await t.db.query<{ state: string }>(`SELECT state FROM training_runs WHERE id = 'run_rc_1'`);
    expect(rows[0]?.state).toBe("failed");
  });

  sharedDeliveryCases("reconcile", "reconcile-tick", () => t, (id, occurredAt) => buildEnvelope("reconcile.tick", { reason: "schedule" }, { id, occurredAt }));
});
