import { deleteExpired, rollUpTransitions, type RetentionTable } from "../../db/queries/retention.ts";
import type { Deps } from "../../ports.ts";

/**
 * Deletes operational rows past their retention, in small batches (at most `maxBatches` of
 * `batchSize` per table per run, so one reconcile run stays short; a backlog drains over a few
 * runs). What is kept and why is in the README ("What is kept, and for how long"). Append-only
 * history the product promises — alias moves, dataset versions and their members, annotations,
 * promotion decisions — is never touched here.
 */
export async function applyRetention(deps: Pick<Deps, "db" | "config">): Promise<Record<string, number>> {
  const r = deps.config.retention;
  const ages: Record<RetentionTable, number> = {
    // A redelivered message older than MAX_EVENT_AGE_SECONDS is dead-lettered before any consumer
    // looks at its inbox row, so past that age (plus a margin for clock skew) the row is useless.
    inbox: deps.config.delivery.maxEventAgeSeconds + r.inboxMarginSeconds,
    sent_outbox: r.sentOutboxSeconds,
    finished_deliveries: r.finishedDeliveriesSeconds,
    dead_letters: r.deadLettersSeconds,
    notifications: r.notificationsSeconds,
    slack_threads: r.slackThreadsSeconds,
    drift_checks: r.driftSeconds,
    predicted_image_stats: r.driftSeconds,
  };
  const deleted: Record<string, number> = {};
  for (const [table, age] of Object.entries(ages) as [RetentionTable, number][]) {
    deleted[table] = await batches(r, (limit) => deleteExpired(deps.db, table, age, limit));
  }
  deleted.transitions = await batches(r, (limit) => rollUpTransitions(deps.db, r.transitionsSeconds, limit));
  return deleted;
}

async function batches(r: { batchSize: number; maxBatches: number }, step: (limit: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (let i = 0; i < r.maxBatches; i++) {
    const n = await step(r.batchSize);
    total += n;
    if (n < r.batchSize) break;
  }
  return total;
}
