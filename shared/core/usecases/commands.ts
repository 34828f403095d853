import { PermanentError } from "../../errors.ts";
import type { Envelope } from "../../messages/envelope.ts";
import type { Command } from "../../messages/commands.ts";
import type { Deps } from "../../ports.ts";
import { getItem, transitionItem } from "../../db/queries/items.ts";
import { claimInbox } from "../../db/queries/messaging.ts";
import { unknownArchiveObjects } from "../../db/queries/archive.ts";
import { aliasHistory, getModel } from "../../db/queries/models.ts";
import { insertDecision } from "../../db/queries/evaluations.ts";
import { findDeadLetter, markDeadLetterReplayed } from "../../db/queries/dead-letters.ts";
import { parseEnvelope } from "../../messages/build.ts";
import { describeError } from "../../errors.ts";
import { transact } from "../effects.ts";
import { objectUri } from "../uri.ts";
import type { ConsumerOutcome } from "../consumers.ts";
import { move, resolveReview } from "./promote.ts";
import { startPrediction } from "./predictions.ts";

/**
 * command: manual operations published on the commands topic (by the CLI or by hand). Each
 * command runs once per message id; refusals (unknown model, nothing to roll back) are permanent
 * errors: recorded, reported, acknowledged.
 */
export async function runCommand(message: Envelope<Command>, deps: Deps): Promise<ConsumerOutcome> {
  const cmd = message.data;
  const log = deps.log.child({ command: cmd.name, actor: cmd.actor });
  log.info("command received");
  switch (cmd.name) {
    case "poll":
      return once(message, deps, async (_tx, emit) => void (await emit("poll.tick", { reason: "command" })));
    case "retrain":
      return once(message, deps, async (_tx, emit) => void (await emit("threshold.tick", { reason: "command", force: true, ...(cmd.line ? { line: cmd.line } : {}) })));
    case "promote": {
      const model = await getModel(deps.db, cmd.modelId);
      if (!model) throw new PermanentError("unknown_model", `no model ${cmd.modelId}`);
      return once(message, deps, async (tx, emit) => {
        const decisionId = deps.ids.next("dec");
        await insertDecision(tx, { id: decisionId, evaluationId: null, modelId: cmd.modelId, alias: cmd.alias, outcome: "promote", reasons: [`manual promotion by ${cmd.actor}`], checks: [], policy: undefined, actor: cmd.actor });
        await move(tx, emit, { alias: cmd.alias, modelId: cmd.modelId, decisionId, actor: cmd.actor, reason: "manual promotion", causeId: message.id, evaluationId: null });
      });
    }
    case "rollback": {
      const history = await aliasHistory(deps.db, cmd.alias);
      const current = history[0];
      if (!current) throw new PermanentError("nothing_to_roll_back", `alias ${cmd.alias} has never been set`);
      const target = current.previous_model_id;
      if (!target) throw new PermanentError("nothing_to_roll_back", `alias ${cmd.alias} has no previous model (it was first set to ${current.model_id})`);
      return once(message, deps, async (tx, emit) => {
        await move(tx, emit, { alias: cmd.alias, modelId: target, decisionId: null, actor: cmd.actor, reason: `rollback from ${current.model_id}`, causeId: message.id, evaluationId: null });
      });
    }
    case "reprocess": {
      const item = await getItem(deps.db, cmd.itemId);
      if (!item) throw new PermanentError("unknown_item", `no item ${cmd.itemId}`);
      if (item.state === "in_dataset") throw new PermanentError("item_frozen", `item ${cmd.itemId} is in a dataset version; upload a new generation instead`);
      return once(message, deps, async (tx, emit) => {
        await transitionItem(tx, item.id, ["seen", "normalised", "registered", "annotated", "accepted", "rejected", "failed", "duplicate"], "seen",
          { error: null, error_stage: null, attempts: 0 }, `reprocess by ${cmd.actor}`);
        await emit("object.finalized", { bucket: item.source_bucket, name: item.source_name, generation: item.source_generation, reprocess: true });
      });
    }
    case "backfill": {
      const objects = await deps.store.list(objectUri(deps.config.buckets.archive, cmd.prefix));
      // Compared in SQL a page at a time: the known keys never come into memory.
      const missing: typeof objects = [];
      for (let i = 0; i < objects.length; i += BACKFILL_PAGE) {
        missing.push(...(await unknownArchiveObjects(deps.db, deps.config.buckets.archive, objects.slice(i, i + BACKFILL_PAGE))));
      }
      const outcome = await once(message, deps, async (_tx, emit) => {
        for (const o of missing) {
          // Same id as the storage event would have had: if that event also arrives, it is the same message.
          await emit("object.finalized", { bucket: o.bucket, name: o.name, generation: o.generation, size: String(o.size) }, { id: `gcs:${o.bucket}/${o.name}#${o.generation}` });
        }
      });
      return { ...outcome, detail: `${missing.length} of ${objects.length} objects queued` };
    }
    case "predict":
      return startPrediction(cmd, message, deps);
    case "replay":
      return replayDeadLetter(cmd.deadLetter, cmd.actor, message, deps);
    case "approve":
    case "reject":
      // Idempotent without the inbox: a review is resolved at most once (unique decision per alias).
      return resolveReview({ evaluationId: cmd.evaluationId, approve: cmd.name === "approve", actor: cmd.actor, ...(cmd.name === "reject" ? { reason: cmd.reason } : {}) }, message, deps);
  }
}

/**
 * Re-drives a dead-lettered message once its cause is fixed (a bug fixed in a new release, a
 * permission granted, a stale message an operator still wants). The message goes out again on its
 * topic under a new id derived from the dead letter (`<id>~replay<row>`): its consumer never
 * processed the original (that is why it was dead-lettered), the original id may already sit in
 * the outbox, and a redelivered replay command derives the same id, so it publishes nothing twice.
 * A fresh `occurredAt` lets it past the age guard: replaying is a deliberate, new delivery.
 */
async function replayDeadLetter(ref: string, actor: string, message: Envelope<Command>, deps: Deps): Promise<ConsumerOutcome> {
  const dead = await findDeadLetter(deps.db, ref);
  if (!dead) throw new PermanentError("unknown_dead_letter", `no dead letter ${ref} (give its row id or its message id)`);
  let original;
  try {
    original = parseEnvelope(dead.payload);
  } catch (err) {
    throw new PermanentError("not_replayable", `dead letter ${dead.id} (${dead.consumer}) holds no message this release can read: ${describeError(err)}`);
  }
  const replayId = `${original.id}~replay${dead.id}`;
  const outcome = await once(message, deps, async (tx, emit) => {
    if (!(await markDeadLetterReplayed(tx, dead.id, actor, replayId))) {
      const when = dead.replayed_at ? ` at ${dead.replayed_at.toISOString()} by ${dead.replayed_by ?? "someone"}` : " by another command";
      throw new PermanentError("already_replayed", `dead letter ${dead.id} was replayed${when}`);
    }
    await emit(original.type, original.data as never, { id: replayId, correlationId: original.correlationId });
  });
  deps.log.info("dead letter replayed", { deadLetter: dead.id, consumer: dead.consumer, originalId: original.id, replayId });
  return { ...outcome, detail: `dead letter ${dead.id} (${original.type} for ${dead.consumer}) replayed as ${replayId}` };
}
/** Listed objects compared with the items per query in `backfill`. */
const BACKFILL_PAGE = 1000;

async function once(
  message: Envelope,
  deps: Deps,
  fn: Parameters<typeof transact<void>>[2],
): Promise<ConsumerOutcome> {
  const done = await transact(deps, message, async (tx, emit) => {
    if (!(await claimInbox(tx, "command", message.id))) return false;
    await fn(tx, emit);
    return true;
  });
  return done ? { status: "done" } : { status: "duplicate" };
}
