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
    // The execution the run points at exists in the fake and failed: the job refused its input (exit 2).
    const [op] = await t.cloudRun.runJob({ name: "projects/test-proj/locations/europe-west4/jobs/train" });
    await t.db.query(`UPDATE training_runs SET execution_name = $1, started_at = now() - interval '2 hours', updated_at = now() - interval '2 hours' WHERE id = 'run_rc_1'`, [op.metadata.name]);
    t.cloudRun.fail(op.metadata.name!, { exitCode: 2 });

    const res = await postPush(t.url, "reconcile-tick", { messageId: "7002", attributes: { type: "reconcile.tick" } });
    expect(res.status).toBe(204);
    expect(lastOutcome(t)?.status).toBe("done");
    const { rows } = await t.db.query<{ state: string; error: string }>(`SELECT state, error FROM training_runs WHERE id = 'run_rc_1'`);
    expect(rows[0]?.state).toBe("failed");
    expect(rows[0]?.error).toMatch(/^the job refused its input \(exit 2\)/);
  });

  it("resumes a run whose GPU task was ended by host maintenance after its task retries, from the same output prefix", async () => {
    await seedTraining(t.db, "run_rc_2");
    const [op] = await t.cloudRun.runJob({ name: "projects/test-proj/locations/europe-west4/jobs/train" });
    const execution = op.metadata.name!;
    await t.db.query(`UPDATE training_runs SET execution_name = $1, updated_at = now() - interval '2 hours' WHERE id = 'run_rc_2'`, [execution]);
    // Cloud Run retries the task inside the execution while max_retries allow; then the execution fails.
    const ends: string[] = [];
    for (let i = 0; i <= t.cloudRun.maxRetries.train!; i++) ends.push(t.cloudRun.endAttempt(execution, { kind: "maintenance" }));
    expect(ends).toEqual([...Array<string>(t.cloudRun.maxRetries.train!).fill("retried"), "failed"]);

    const launchesBefore = t.cloudRun.launches.length;
    expect((await postPush(t.url, "reconcile-tick", { messageId: "7003", attributes: { type: "reconcile.tick" } })).status).toBe(204);
    const { rows } = await t.db.query<{ state: string; attempt: number; execution_name: string; output_prefix: string }>(
      `SELECT state, attempt, execution_name, output_prefix FROM training_runs WHERE id = 'run_rc_2'`);
    expect(rows[0]).toMatchObject({ state: "running", attempt: 2 });
    const relaunch = t.cloudRun.launches.slice(launchesBefore);
    expect(relaunch.map((l) => [l.jobName, l.env.RUN_ID, l.env.RUN_ATTEMPT, l.env.OUTPUT_PREFIX])).toEqual([["train", "run_rc_2", "2", rows[0]!.output_prefix]]);
    expect(rows[0]!.execution_name).toBe(relaunch[0]!.executionName);
    expect(lastOutcome(t)?.detail).toMatch(/run run_rc_2: resumed \(execution stopped by the platform \(host maintenance.* after 3 task retries/);
  });

  sharedDeliveryCases("reconcile", "reconcile-tick", () => t, (id, occurredAt) => buildEnvelope("reconcile.tick", { reason: "schedule" }, { id, occurredAt }));
});
