import { ITEM_STATES, type ItemState } from "../../core/status/snapshot.ts";
import type { Queryable } from "../../ports.ts";

/**
 * What `/metrics` reads at scrape time. Each query is bounded whatever the history holds: the
 * status counters (a few rows per state), one `min()` per state through `items_state_idx`, and
 * group-bys over runs, evaluations and retained dead letters (small tables).
 */
export interface LoopGauges {
  items: Record<ItemState, number>;
  /** Seconds since the longest-waiting item entered each state; null when the state is empty. */
  oldestAgeSeconds: Record<ItemState, number | null>;
  /** Dead letters still retained, per consumer. */
  deadLetters: Record<string, number>;
  /** Training runs, evaluations and batch predictions per state. */
  jobRuns: { job: "train" | "evaluate" | "predict"; state: string; count: number }[];
}

export async function readLoopGauges(db: Queryable, now: Date = new Date()): Promise<LoopGauges> {
  const counts = await db.query<{ state: ItemState; current: number }>(
    `SELECT state, sum(current)::int AS current FROM item_state_counts GROUP BY state`,
  );
  const items = Object.fromEntries(ITEM_STATES.map((s) => [s, 0])) as Record<ItemState, number>;
  for (const r of counts.rows) if (r.state in items) items[r.state] = r.current;

  // One index probe per state (items_state_idx is (state, state_changed_at)).
  const oldest = await db.query<{ state: ItemState; oldest: Date | string | null }>(
    `SELECT s.state, (SELECT min(i.state_changed_at) FROM items i WHERE i.state = s.state) AS oldest
     FROM unnest($1::text[]) AS s(state)`,
    [ITEM_STATES],
  );
  const oldestAgeSeconds = Object.fromEntries(ITEM_STATES.map((s) => [s, null])) as Record<ItemState, number | null>;
  for (const r of oldest.rows) {
    if (r.oldest) oldestAgeSeconds[r.state] = Math.max(0, (now.getTime() - new Date(r.oldest).getTime()) / 1000);
  }

  const dead = await db.query<{ consumer: string; n: number }>(`SELECT consumer, count(*)::int AS n FROM dead_letters GROUP BY consumer`);
  const deadLetters = Object.fromEntries(dead.rows.map((r) => [r.consumer, r.n]));

  const runs = await db.query<{ job: "train" | "evaluate" | "predict"; state: string; n: number }>(
    `SELECT 'train' AS job, state, count(*)::int AS n FROM training_runs GROUP BY state
     UNION ALL SELECT 'evaluate', state, count(*)::int FROM evaluations GROUP BY state
     UNION ALL SELECT 'predict', state, count(*)::int FROM prediction_runs GROUP BY state`,
  );
  return { items, oldestAgeSeconds, deadLetters, jobRuns: runs.rows.map((r) => ({ job: r.job, state: r.state, count: r.n })) };
}
