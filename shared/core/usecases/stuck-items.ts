import type { Envelope } from "../../messages/envelope.ts";
import type { Deps } from "../../ports.ts";
import { transitionItem } from "../../db/queries/items.ts";
import { dueStuckItems, scheduleRetries, type StuckItemRow } from "../../db/queries/stuck.ts";
import { notify, transact } from "../effects.ts";

/** Items handled per state and reconcile run. */
const BATCH = 200;
/** The longest wait between two retries of one item. */
const MAX_DELAY_SECONDS = 24 * 3600;

/**
 * Items stuck in `seen` (normalisation never finished) or `normalised` (registration never came)
 * are retried with a doubling back-off — `seen` after STUCK_AFTER_SECONDS, then 2×, 4×, …;
 * `normalised` after a minute, then 2, 4, … minutes — and fail with their last error once they
 * have used STUCK_MAX_ATTEMPTS attempts (`items.attempts`, which ingest also counts transient
 * failures in). Returns what it did, for reconcile's report.
 */
export async function retryStuckItems(message: Envelope | null, deps: Deps): Promise<string[]> {
  const stuck = deps.config.delivery.stuckAfterSeconds;
  const notes: string[] = [];
  const seen = await retryState("seen", stuck, message, deps);
  if (seen.retried.length) notes.push(`${seen.retried.length} stuck uploads retried`);
  if (seen.failed) notes.push(`${seen.failed} stuck uploads failed`);
  // Registration should follow within seconds; a minute without it means a lost nudge.
  const normalised = await retryState("normalised", Math.min(stuck, 60), message, deps);
  if (normalised.retried.length) notes.push("registration nudged");
  if (normalised.failed) notes.push(`${normalised.failed} items never registered failed`);
  return notes;
}

async function retryState(state: "seen" | "normalised", baseSeconds: number, message: Envelope | null, deps: Deps): Promise<{ retried: StuckItemRow[]; failed: number }> {
  const due = await dueStuckItems(deps.db, state, baseSeconds, BATCH);
  const max = deps.config.delivery.stuckMaxAttempts;
  const exhausted = due.filter((i) => i.attempts >= max);
  const retry = due.filter((i) => i.attempts < max);
  let failed = 0;
  for (const item of exhausted) {
    const stage = state === "seen" ? "ingest" : "register";
    const reason = `stuck in ${state} after ${item.attempts} attempts${item.error ? `: ${item.error}` : ""}`;
    const moved = await transact(deps, message, async (tx, emit) => {
      const row = await transitionItem(tx, item.id, [state], "failed", { error: reason, error_stage: stage }, reason);
      if (row) await emit("item.failed", { itemId: item.id, stage, reason });
      return row !== null;
    });
    if (!moved) continue;
    failed++;
    // `alert` marks the line for the log-based metric behind the stuck-items alert policy (infra/monitoring.tf).
    deps.log.warn("item failed after stuck retries", { alert: "stuck_item", itemId: item.id, state });
    await notify(deps, { severity: "warning", title: `Item ${item.id} failed: stuck in ${state}`, text: reason, threadKey: `item:${item.id}` });
  }
  const scheduled = new Set(await deps.db.transaction((tx) => scheduleRetries(tx, retry.map((i) => i.id), state, baseSeconds, MAX_DELAY_SECONDS)));
  const retried = retry.filter((i) => scheduled.has(i.id));
  if (retried.length) {
    await transact(deps, message, async (_tx, emit) => {
      if (state === "seen") {
        for (const item of retried) {
          await emit("object.finalized", { bucket: item.source_bucket, name: item.source_name, generation: item.source_generation, reprocess: true });
        }
      } else {
        // One nudge is enough: register claims every waiting item.
        await emit("item.normalised", { itemId: retried[0]!.id });
      }
    });
  }
  return { retried, failed };
}
