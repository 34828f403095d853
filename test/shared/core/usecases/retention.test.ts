import { afterEach, describe, expect, it } from "vitest";
import { applyRetention } from "../../../../shared/core/usecases/retention.ts";
import { createTestDeps, type TestDeps } from "../../../helpers/deps.ts";
import { testDbKind } from "../../../helpers/db.ts";

describe(`retention (${testDbKind})`, () => {
  let t: TestDeps;
  afterEach(async () => t?.close());

  const count = async (sql: string) => (await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`)).rows[0]!.n;

  it("deletes operational rows past their retention in batches and keeps the promised history", async () => {
    // MAX_EVENT_AGE 1 h + 1 h margin for the inbox; a day for sent outbox rows and finished deliveries.
    t = await createTestDeps({ env: { MAX_EVENT_AGE_SECONDS: "3600", RETENTION_INBOX_MARGIN_HOURS: "1", RETENTION_BATCH_SIZE: "3", RETENTION_MAX_BATCHES: "100" } });
    const ago = (hours: number) => new Date(Date.now() - hours * 3_600_000).toISOString();
    for (let i = 0; i < 7; i++) {
      await t.db.query(`INSERT INTO inbox (consumer, message_id, processed_at) VALUES ('ingest', $1, $2), ('ingest', $3, $4)`, [`old${i}`, ago(2.5), `new${i}`, ago(1.5)]);
      await t.db.query(`INSERT INTO outbox (id, type, topic, envelope, created_at, sent_at) VALUES ($1, 't', 't', '{}', $2, $2), ($3, 't', 't', '{}', $4, $4), ($5, 't', 't', '{}', $2, NULL)`,
        [`sent-old${i}`, ago(30), `sent-new${i}`, ago(2), `unsent${i}`]);
      await t.db.query(`INSERT INTO local_deliveries (message_id, consumer, envelope, state, updated_at) VALUES ($1, 'ingest', '{}', 'done', $2), ($3, 'ingest', '{}', 'done', $4),
                        ($5, 'ingest', '{}', 'dead', $2), ($6, 'ingest', '{}', 'pending', $2)`, [`d-old${i}`, ago(30), `d-new${i}`, ago(2), `dead${i}`, `pend${i}`]);
      await t.db.query(`INSERT INTO dead_letters (consumer, reason, created_at) VALUES ('ingest', 'x', $1), ('ingest', 'y', $2)`, [ago(31 * 24), ago(24)]);
      await t.db.query(`INSERT INTO notifications (severity, title, text, created_at) VALUES ('info', 'a', 'b', $1), ('info', 'c', 'd', $2)`, [ago(31 * 24), ago(24)]);
      await t.db.query(`INSERT INTO slack_threads (thread_key, channel, thread_ts, created_at) VALUES ($1, 'c', '1', $2), ($3, 'c', '2', $4)`, [`old${i}`, ago(31 * 24), `new${i}`, ago(24)]);
    }
    await t.db.query(`INSERT INTO items (id, source_bucket, source_name, source_generation, state) VALUES ('it_1', 'archive', 'a', '1', 'failed')`);
    await t.db.query(`INSERT INTO item_transitions (item_id, from_state, to_state, at) VALUES
      ('it_1', NULL, 'seen', $1), ('it_1', 'seen', 'failed', $2), ('it_1', 'failed', 'seen', $3)`, [ago(50 * 24), ago(40 * 24), ago(1)]);
    await t.db.query(`INSERT INTO models (id, name, task, uri, card) VALUES ('m1', 'm', 'segmentation', 'gs://m/1', '{}')`);
    await t.db.query(`INSERT INTO alias_moves (alias, model_id, actor, reason, cause_id, moved_at) VALUES ('staging', 'm1', 'policy', 'first', 'c1', $1)`, [ago(5000)]);

    // Drift (7 days): old checks and old prediction statistics go; ingest statistics stay with their item.
    for (let i = 0; i < 4; i++) {
      await t.db.query(`INSERT INTO drift_checks (alias, reference_images, window_images, features, drifted, checked_at) VALUES ('prod', 0, 0, '[]', false, $1), ('prod', 0, 0, '[]', false, $2)`, [ago(8 * 24), ago(24)]);
      await t.db.query(`INSERT INTO image_stats (source, features, recorded_at) VALUES ('predict', '{}', $1), ('predict', '{}', $2)`, [ago(8 * 24), ago(24)]);
    }
    await t.db.query(`INSERT INTO image_stats (source, item_id, features, recorded_at) VALUES ('ingest', 'it_1', '{}', $1)`, [ago(50 * 24)]);

    const deleted = await applyRetention(t.deps);
    expect(deleted).toEqual({
      inbox: 7, sent_outbox: 7, finished_deliveries: 14, dead_letters: 7, notifications: 7, slack_threads: 7, drift_checks: 4, predicted_image_stats: 4, transitions: 2,
    });
    expect(await count(`drift_checks`)).toBe(4);
    expect(await count(`image_stats WHERE source = 'ingest'`)).toBe(1);
    expect(await count(`inbox WHERE message_id LIKE 'new%'`)).toBe(7);
    expect(await count(`outbox`)).toBe(14); // recent sent rows and every unsent row stay
    expect(await count(`local_deliveries`)).toBe(14);
    expect(await count(`local_deliveries WHERE state = 'pending'`)).toBe(7);
    for (const table of ["dead_letters", "notifications", "slack_threads"]) expect(await count(table)).toBe(7);
    // Old transitions live on as per-day counts.
    expect((await t.db.query(`SELECT day::text AS day, from_state, to_state, n::int AS n FROM item_transition_days ORDER BY day`)).rows).toEqual([
      { day: ago(50 * 24).slice(0, 10), from_state: "", to_state: "seen", n: 1 },
      { day: ago(40 * 24).slice(0, 10), from_state: "seen", to_state: "failed", n: 1 },
    ]);
    expect(await count(`item_transitions`)).toBe(1);
    expect(await count(`alias_moves`)).toBe(1);

    // Nothing left to delete: a second run deletes nothing.
    expect(Object.values(await applyRetention(t.deps)).every((n) => n === 0)).toBe(true);
  });

  it("stops after the configured batches per run, leaving the rest for the next run", async () => {
    t = await createTestDeps({ env: { RETENTION_BATCH_SIZE: "2", RETENTION_MAX_BATCHES: "2" } });
    for (let i = 0; i < 5; i++) {
      await t.db.query(`INSERT INTO dead_letters (consumer, reason, created_at) VALUES ('ingest', 'x', now() - interval '60 days')`);
    }
    expect((await applyRetention(t.deps)).dead_letters).toBe(4);
    expect((await applyRetention(t.deps)).dead_letters).toBe(1);
  });
});
