import type { ParsedMessage } from "../messages/build.ts";
import type { ConsumerName } from "../messages/topics.ts";
import type { Deps } from "../ports.ts";
import { runCommand } from "./usecases/commands.ts";
import { onPredictionCompleted, onPredictionFailed } from "./usecases/predictions.ts";
import { ingest } from "./usecases/ingest.ts";
import { pollLabels } from "./usecases/poll.ts";
import { backfillPrelabels, prelabelRegistered } from "./usecases/prelabel.ts";
import { onEvaluationCompleted, onEvaluationFailed } from "./usecases/promote.ts";
import { reconcile } from "./usecases/reconcile.ts";
import { registerPending } from "./usecases/register.ts";
import { checkThreshold } from "./usecases/threshold.ts";
import { onTrainingCompleted, onTrainingFailed } from "./usecases/training.ts";

export interface ConsumerOutcome {
  /** `done`: the effect happened; `duplicate`: already processed; `skipped`: nothing to do. */
  status: "done" | "duplicate" | "skipped";
  detail?: string;
}

/**
 * Runs the use case a consumer stands for. Every consumer is idempotent: a message it has seen
 * (inbox) or an effect already in place (state guard) makes it return `duplicate`.
 * A message type the consumer does not subscribe to is skipped (a misrouted push is acknowledged).
 */
export async function runConsumer(consumer: ConsumerName, message: ParsedMessage, deps: Deps): Promise<ConsumerOutcome> {
  switch (consumer) {
    case "ingest":
      if (message.type === "object.finalized") return ingest(message, deps);
      break;
    case "register":
      if (message.type === "item.normalised" || message.type === "item.failed" || message.type === "item.duplicate") return registerPending(message, deps);
      break;
    case "poll":
      if (message.type === "poll.tick") return pollLabels(message, deps);
      break;
    case "threshold":
      if (message.type === "annotations.accepted") return checkThreshold(message, deps);
      if (message.type === "threshold.tick") return checkThreshold(message, deps, message.data.force === true);
      break;
    case "on-training-completed":
      if (message.type === "training.completed") return onTrainingCompleted(message, deps);
      if (message.type === "training.failed") return onTrainingFailed(message, deps);
      break;
    case "promote":
      if (message.type === "evaluation.completed") return onEvaluationCompleted(message, deps);
      if (message.type === "evaluation.failed") return onEvaluationFailed(message, deps);
      break;
    case "command":
      if (message.type === "command") return runCommand(message, deps);
      if (message.type === "prediction.completed") return onPredictionCompleted(message, deps);
      if (message.type === "prediction.failed") return onPredictionFailed(message, deps);
      break;
    case "reconcile":
      if (message.type === "reconcile.tick") return reconcile(message, deps);
      break;
    case "prelabel":
      if (message.type === "items.registered") return prelabelRegistered(message, deps);
      if (message.type === "model.promoted" || message.type === "reconcile.tick") return backfillPrelabels(deps);
      break;
  }
  return { status: "skipped", detail: `${consumer} does not handle ${message.type}` };
}
