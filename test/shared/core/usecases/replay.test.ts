import { afterEach, describe, expect, it } from "vitest";
import { handleDelivery } from "../../../../shared/core/delivery.ts";
import { buildEnvelope } from "../../../../shared/messages/build.ts";
import { createTestDeps, type TestDeps } from "../../../helpers/deps.ts";
import { testDbKind } from "../../../helpers/db.ts";

/**
 * `replay` re-drives a dead-lettered message once its cause is fixed: here a manual promotion of a
 * model that did not exist yet is refused (dead-lettered), the model appears, and the replay
 * promotes it — once, however often the replay command is delivered.
 */
describe(`replaying a dead letter (${testDbKind})`, () => {
  let t: TestDeps;
  afterEach(async () => t?.close());

  const command = (id: string, data: Record<string, unknown>) =>
    buildEnvelope("command", { actor: "ops", ...data } as never, { id, occurredAt: new Date() });

  async function deadLetterIds(): Promise<{ id: string; message_id: string | null; reason: string }[]> {
    return (await t.db.query<{ id: string; message_id: string | null; reason: string }>(`SELECT id::text AS id, message_id, reason FROM dead_letters ORDER BY id`)).rows;
  }

  it("re-drives the message to its consumer once its cause is fixed, exactly once", async () => {
    t = await createTestDeps();
    const promote = command("cmd-promote-early", { name: "promote", modelId: "mdl_later", alias: "staging" });
    expect(await handleDelivery("command", promote, t.deps)).toMatchObject({ status: "failed_permanently" });
    const [dead] = await deadLetterIds();
    expect(dead).toMatchObject({ message_id: "cmd-promote-early", reason: expect.stringMatching(/unknown_model/) });

    // The cause is fixed: the model now exists.
    await t.db.query(`INSERT INTO models (id, name, task, uri, card) VALUES ('mdl_later', 'm', 'segmentation', 'gs://models/m/', '{}')`);

    const replay = command("cmd-replay-1", { name: "replay", deadLetter: dead!.id });
    expect(await handleDelivery("command", replay, t.deps)).toMatchObject({ status: "done" });
    expect(await handleDelivery("command", replay, t.deps)).toMatchObject({ status: "duplicate" });
    const replayed = t.publisher.messages.filter((m) => m.id.startsWith("cmd-promote-early~replay"));
    expect(replayed).toHaveLength(1);
    expect(replayed[0]).toMatchObject({ type: "command", correlationId: promote.correlationId, causationId: "cmd-replay-1", data: promote.data });

    // Delivered (twice, as Pub/Sub may), the replay moves the alias once.
    for (let i = 0; i < 2; i++) await handleDelivery("command", replayed[0], t.deps);
    const moves = await t.db.query(`SELECT alias, model_id FROM alias_moves`);
    expect(moves.rows).toEqual([{ alias: "staging", model_id: "mdl_later" }]);

    // Another replay command for the same dead letter is refused, and recorded, not retried.
    const again = command("cmd-replay-2", { name: "replay", deadLetter: "cmd-promote-early" });
    expect(await handleDelivery("command", again, t.deps)).toMatchObject({ status: "failed_permanently", reason: expect.stringMatching(/already_replayed/) });
    expect(t.publisher.messages.filter((m) => m.id.startsWith("cmd-promote-early~replay"))).toHaveLength(1);
  });

  it("lets a stale message past the age guard only through a replay", async () => {
    t = await createTestDeps({ env: { MAX_EVENT_AGE_SECONDS: "60" } });
    const old = buildEnvelope("threshold.tick", { reason: "schedule" }, { id: "tick-old", occurredAt: new Date(Date.now() - 3_600_000) });
    expect(await handleDelivery("threshold", old, t.deps)).toMatchObject({ status: "dead_lettered" });
    expect(await handleDelivery("threshold", old, t.deps)).toMatchObject({ status: "dead_lettered" });
    await handleDelivery("command", command("cmd-replay-tick", { name: "replay", deadLetter: "tick-old" }), t.deps);
    const [replayed] = t.publisher.messages.filter((m) => m.type === "threshold.tick");
    expect(replayed?.id).toMatch(/^tick-old~replay\d+$/);
    expect(await handleDelivery("threshold", replayed, t.deps)).toMatchObject({ status: "skipped" });
  });

  it("refuses what it cannot replay with a reason: garbage, unknown ids", async () => {
    t = await createTestDeps();
    await handleDelivery("poll", { undecodable: "message data is not JSON", received: "%%%" }, t.deps);
    const [garbage] = await deadLetterIds();
    const outcome = await handleDelivery("command", command("cmd-replay-garbage", { name: "replay", deadLetter: garbage!.id }), t.deps);
    expect(outcome).toMatchObject({ status: "failed_permanently", reason: expect.stringMatching(/not_replayable/) });
    const unknown = await handleDelivery("command", command("cmd-replay-unknown", { name: "replay", deadLetter: "99999" }), t.deps);
    expect(unknown).toMatchObject({ status: "failed_permanently", reason: expect.stringMatching(/unknown_dead_letter/) });
    expect(t.publisher.messages).toHaveLength(0);
  });
});
